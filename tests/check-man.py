#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Checks the generated man pages against what they describe: groff has nothing
# to warn about, homebattery(8) lists every option of `homebattery --help` and
# no other, homebattery.json(5) carries every section, key heading and key of
# docs/configuration.md. Usage: check-man.py BUILD_DIR SOURCE_DIR
# In a cross build meson passes its exe wrapper (qemu-user) in MESON_EXE_WRAPPER,
# because the binary is one of the test's arguments; HB_EXE_WRAPPER overrides it.
import os
import pathlib
import re
import shlex
import subprocess
import sys

OPTION = re.compile(r'(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])(?![\w-])')


def groff(page, *args):
    tbl = ['-t'] if re.search(r'^\.TS', page.read_text(), re.M) else []
    return subprocess.run(['groff', '-man', '-Tutf8', *tbl, *args, str(page)],
                          capture_output=True, text=True, encoding='utf-8')


def lint(page, problems):
    r = groff(page, '-ww', '-z')
    if r.returncode != 0 or r.stderr.strip():
        problems.append('%s: groff -ww: %s' % (page.name, r.stderr.strip() or 'exit status %d' % r.returncode))


def render(page):
    """The page as plain text, one paragraph a line, no hyphenation."""
    r = groff(page, '-P-cbou', '-rLL=1000n', '-rHY=0')
    return r.stdout.replace('\u2212', '-').replace('\u2010', '-')


def section(text, title):
    """Lines of one .SH section of rendered text (headings start in column 0)."""
    out, inside = [], False
    for line in text.splitlines():
        if line and not line[0].isspace():
            inside = line.strip() == title
            continue
        if inside:
            out.append(line)
    return '\n'.join(out)


def check_options(build, page_text, problems):
    exe = [str(build / 'homebattery'), '--help']
    wrapper = os.environ.get('HB_EXE_WRAPPER') or os.environ.get('MESON_EXE_WRAPPER')
    if wrapper:
        exe = shlex.split(wrapper) + exe
    r = subprocess.run(exe, capture_output=True, text=True)
    if r.returncode != 0:
        problems.append('homebattery --help: exit status %d' % r.returncode)
        return
    # The option lines of --help start with "  -c, --config" or "      --version".
    help_opts = set()
    for line in r.stdout.splitlines():
        if re.match(r'^ {2,6}-', line):
            help_opts |= set(OPTION.findall(line))
    options = section(page_text, 'OPTIONS')
    if not options.strip():
        problems.append('homebattery.8: no OPTIONS section')
    page_opts = set(OPTION.findall(options))
    for o in sorted(help_opts - page_opts):
        problems.append('homebattery.8: OPTIONS does not describe %s (in --help)' % o)
    for o in sorted(page_opts - help_opts):
        problems.append('homebattery.8: OPTIONS names %s, which --help does not list' % o)
    if not help_opts:
        problems.append('homebattery --help: no options found')


def plain(md):
    return re.sub(r'`|\*\*', '', re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', md)).strip()


def check_config_page(source, page_text, problems):
    md = (source / 'docs' / 'configuration.md').read_text(encoding='utf-8')
    lines = {l.strip() for l in page_text.splitlines()}
    upper = {l.upper() for l in lines}
    headings = re.findall(r'^(##|###) +(.+?)\s*$', md, re.M)
    if len(headings) < 10:
        problems.append('configuration.md: only %d headings found' % len(headings))
    for level, text in headings:
        if (plain(text).upper() not in upper) if level == '##' else (plain(text) not in lines):
            problems.append('homebattery.json.5: heading "%s %s" of configuration.md is missing' % (level, text))
    # Every key of the "Top-level keys" table, as an entry of that section.
    table = re.search(r'^## Top-level keys\n(.*?)^## ', md, re.M | re.S)
    keys = re.findall(r'^\| *([a-z_]+) *\|', table.group(1), re.M) if table else []
    keys = [k for k in keys if k != 'key']  # the header row
    if len(keys) < 5:
        problems.append('configuration.md: the "Top-level keys" table has %d keys' % len(keys))
    tags = {l.split()[0] for l in section(page_text, 'TOP-LEVEL KEYS').splitlines() if l.strip()}
    for k in keys:
        if k not in tags:
            problems.append('homebattery.json.5: top-level key "%s" is missing from TOP-LEVEL KEYS' % k)
    # Every row of every "| key |" table, as an entry somewhere in the page.
    entries = {l.split()[0] for l in page_text.splitlines() if l.strip()}
    for block in re.findall(r'^\| key \|.*?\n((?:\|.*\n)+)', md, re.M):
        for k in re.findall(r'^\| *([A-Za-z_.]+) *\|', block, re.M):
            if k not in entries:
                problems.append('homebattery.json.5: key "%s" of configuration.md is missing' % k)


def main():
    build, source = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    pages = [build / 'docs' / 'homebattery.8', build / 'docs' / 'homebattery.json.5']
    problems = []
    for page in pages:
        if not page.is_file():
            print('missing: %s (not built?)' % page)
            return 1
        lint(page, problems)
    man8, man5 = render(pages[0]), render(pages[1])
    for page, text, name in ((pages[0], man8, 'homebattery - '), (pages[1], man5, 'homebattery.json - ')):
        if not section(text, 'NAME').strip().startswith(name):
            problems.append('%s: NAME does not start with "%s"' % (page.name, name))
    check_options(build, man8, problems)
    check_config_page(source, man5, problems)
    for p in problems:
        print(p)
    print('%s: %s' % (' '.join(p.name for p in pages), 'FAIL' if problems else 'ok'))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
