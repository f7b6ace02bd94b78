#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# md2man.py: turns the markdown subset of docs/ into a man(7) page, so that the
# man pages are built from the same files as the documentation and cannot
# drift from it. Tables become .TP lists (readable at 80 columns, no tbl).
# Output is plain ASCII: every other character becomes a \[uXXXX] escape.
"""Usage: md2man.py --name NAME --section N [--date YYYY-MM-DD] --version V
                  [--title-line "NAME - summary"] IN.md OUT"""

import argparse
import datetime
import os
import re
import sys

MANUALS = {'1': 'User Commands', '5': 'File Formats Manual', '8': "System Manager's Manual"}
ITEM_RE = re.compile(r'^( {0,3})([-*+]|\d+[.)])( +)(.*)$')
FENCE_RE = re.compile(r'^ *```')
HEADING_RE = re.compile(r'^(#{1,6}) +(.*?) *#* *$')
INLINE_RE = re.compile(r'(`+)([^\n].*?)\1'                  # code span
                       r'|\[([^\]]*)\]\(([^)\s]*)\)'         # link
                       r'|(\*\*)'                            # bold marker
                       r'|((?<![\w*])\*(?=[^\s*]))'          # italic opens
                       r'|((?<=[^\s*])\*(?![\w*]))', re.S)   # italic closes


# --- Escaping -------------------------------------------------------------

def escape(text, code=False):
    """Text for a roff text line: backslashes, non-ASCII, and in code every
    hyphen (so that options and names can be copied as typed)."""
    out = []
    for i, ch in enumerate(text):
        if ch == '\\':
            out.append('\\e')
        elif ch == '-' and (code or (i + 1 < len(text) and text[i + 1] == '-')
                            or (i + 1 < len(text) and text[i + 1].isalpha() and (i == 0 or text[i - 1] in ' (/\n'))):
            # In prose, "-c" and "--config" are options, "read-only" is a word.
            out.append('\\-')
        elif ord(ch) > 126 or (ord(ch) < 32 and ch not in '\t\n'):
            out.append('\\[u%04X]' % ord(ch))
        else:
            out.append(ch)
    return ''.join(out)


def code_span(text):
    """Inline code: never hyphenated (\\% before each word, a hyphen added
    there would be copied along), but may break after "," and "/" (\\:)
    so that a long path or JSON text still fits the line."""
    words = [re.sub(r'(?<=[^/])([,/])(?=.)', r'\1\\:', escape(w, code=True)) for w in text.split(' ')]
    return ' '.join('\\%' + w if w else w for w in words)


def font(bold, italic):
    return '\\f' + ({(0, 0): 'R', (1, 0): 'B', (0, 1): 'I'}.get((bold, italic), '(BI'))


def inline(text, bold=0):
    """Markdown inline markup to roff: `code` bold, **bold**, *italic*, links
    as their text (external ones with the address)."""
    out, pos, base, italic = [], 0, bold, 0
    for m in INLINE_RE.finditer(text):
        out.append(escape(text[pos:m.start()]))
        pos = m.end()
        if m.group(1):
            out.append(font(1, italic) + code_span(m.group(2).strip()) + font(bold, italic))
        elif m.group(3) is not None:
            label, url = m.group(3), m.group(4)
            out.append(inline(label, bold) if label else '')
            if re.match(r'https?://', url) and url != label:
                out.append(' <' + escape(url, code=True) + '>')
        elif m.group(5):
            bold = base if bold != base else 1
            out.append(font(bold, italic))
        elif (m.group(6) and not italic) or (m.group(7) and italic):
            italic = 1 - italic
            out.append(font(bold, italic))
        else:
            out.append('*')  # as in "temp_*"

    out.append(escape(text[pos:]))
    if (bold, italic) != (base, 0):  # an unclosed marker: do not leak the font
        out.append(font(base, 0))
    return ''.join(out)


def text_lines(lines, bold=0):
    """Source lines of a paragraph as roff text lines."""
    out = []
    # Markup may span lines: convert the paragraph as one text.
    for line in inline('\n'.join(l.strip() for l in lines), bold).split('\n'):
        out.append('\\&' + line if line.startswith(('.', "'")) else line)
    return out


def plain(text):
    """Heading text: markup removed (headings are bold anyway)."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', text)
    return re.sub(r'`+|\*\*', '', text)


# --- Block parsing ----------------------------------------------------------

def indent_of(line):
    return len(line) - len(line.lstrip(' '))


def split_row(line):
    """Cells of a pipe table row; a | inside `code` or escaped as \\| stays."""
    cells, cur, in_code = [], '', False
    body = line.strip()
    body = body[1:] if body.startswith('|') else body
    body = body[:-1] if body.endswith('|') and not body.endswith('\\|') else body
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '\\' and i + 1 < len(body) and body[i + 1] == '|':
            cur += '|'
            i += 2
            continue
        if ch == '`':
            in_code = not in_code
        if ch == '|' and not in_code:
            cells.append(cur.strip())
            cur = ''
        else:
            cur += ch
        i += 1
    cells.append(cur.strip())
    return cells


def starts_block(line):
    return bool(HEADING_RE.match(line) or FENCE_RE.match(line) or line.lstrip().startswith('|')
                or re.match(r'^ {0,3}[-*+] ', line))


def parse_list(lines, i):
    """A list starting at lines[i]; each item is parsed again as blocks."""
    first = ITEM_RE.match(lines[i])
    ordered = first.group(2)[0].isdigit()
    items = []
    while i < len(lines):
        m = ITEM_RE.match(lines[i])
        if not m or m.group(2)[0].isdigit() != ordered:
            break
        content = len(m.group(1)) + len(m.group(2)) + len(m.group(3))
        body = [m.group(4)]
        i += 1
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                nxt = next((l for l in lines[i:] if l.strip()), '')
                if indent_of(nxt) >= content and nxt.strip():
                    body.append('')
                    i += 1
                    continue
                break
            if indent_of(line) >= content:
                body.append(line[content:])
            elif ITEM_RE.match(line) or (body and not body[-1]) or starts_block(line):
                break
            else:
                body.append(line.strip())  # lazy continuation
            i += 1
        items.append(parse_blocks(body))
        # A blank line between items keeps the list going.
        j = i
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j > i and j < len(lines) and ITEM_RE.match(lines[j]) and indent_of(lines[j]) == len(first.group(1)):
            i = j
    return ('list', ordered, items), i


def parse_blocks(lines):
    """Markdown lines to a list of (kind, ...) blocks."""
    blocks, i = [], 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif FENCE_RE.match(line):
            ind, i, code = indent_of(line), i + 1, []
            while i < len(lines) and not FENCE_RE.match(lines[i]):
                code.append(lines[i][ind:] if indent_of(lines[i]) >= ind else lines[i].lstrip())
                i += 1
            blocks.append(('code', code))
            i += 1
        elif HEADING_RE.match(line):
            m = HEADING_RE.match(line)
            blocks.append(('heading', len(m.group(1)), m.group(2)))
            i += 1
        elif indent_of(line) >= 4:
            code = []
            while i < len(lines) and (not lines[i].strip() or indent_of(lines[i]) >= 4):
                code.append(lines[i][4:])
                i += 1
            while code and not code[-1].strip():
                code.pop()
            blocks.append(('code', code))
        elif line.lstrip().startswith('|'):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith('|'):
                rows.append(split_row(lines[i]))
                i += 1
            if len(rows) > 1 and all(re.fullmatch(r':?-+:?', c) for c in rows[1] if c):
                del rows[1]
            blocks.append(('table', rows[0], rows[1:]))
        elif ITEM_RE.match(line):
            block, i = parse_list(lines, i)
            blocks.append(block)
        else:
            para = [line]
            i += 1
            while i < len(lines) and lines[i].strip() and not starts_block(lines[i]):
                para.append(lines[i])
                i += 1
            blocks.append(('para', para))
    return blocks


# --- Rendering --------------------------------------------------------------

def render_code(code):
    out = ['.PP', '.RS 4', '.nf']
    for line in code:
        line = escape(line.rstrip(), code=True)
        out.append('\\&' + line if line.startswith(('.', "'")) else line)
    return out + ['.fi', '.RE']


def render_table(header, rows):
    """One .TP entry per row: the first cell is the tag, the others follow
    as "header: value" lines (just the value in a two-column table)."""
    out = []
    for row in rows:
        out += ['.TP'] + text_lines([row[0] if row else ''], bold=1)
        first = True
        for head, cell in list(zip(header, row))[1:]:
            if not cell:
                continue
            if not first:
                out.append('.br')
            label = '' if len(header) == 2 else plain(head) + ': '
            out += text_lines([label + cell])
            first = False
    return out


def render_list(ordered, items):
    out = []
    for n, item in enumerate(items, 1):
        tag, width = (str(n) + '.', 4) if ordered else ('\\(bu', 2)
        out.append('.IP %s %d' % (tag, width))
        rest = item
        if item and item[0][0] == 'para':
            out += text_lines(item[0][1])
            rest = item[1:]
        if rest:
            out += ['.RS %d' % width] + render(rest, after_heading=True) + ['.RE']
    return out


def render(blocks, after_heading=False, name_dash=False):
    out = []
    for block in blocks:
        kind = block[0]
        if kind == 'heading':
            level, text = block[1], plain(block[2])
            line = escape(text.upper() if level <= 2 else text)
            out += ['.SH' if level <= 2 else '.SS', '\\&' + line if line.startswith(('.', "'")) else line]
            name_dash = text.strip().upper() == 'NAME'
            after_heading = True
            continue
        if kind == 'para':
            lines = block[1]
            text = text_lines(lines)
            if name_dash and ' - ' in lines[0]:  # "name - summary": the dash of whatis(1)
                name, summary = lines[0].split(' - ', 1)
                text[0] = ' \\- '.join(text_lines([name, summary]))
            name_dash = False
            out += ([] if after_heading else ['.PP']) + text
        elif kind == 'code':
            out += render_code(block[1])
        elif kind == 'table':
            out += render_table(block[1], block[2])
        elif kind == 'list':
            out += render_list(block[1], block[2])
        after_heading = False
    return out


def convert(md, name, section, date, version, title_line):
    blocks = parse_blocks(md.splitlines())
    # The "# Title" of the document page gives way to .TH.
    if blocks and blocks[0][0] == 'heading' and blocks[0][1] == 1:
        blocks = blocks[1:]
    names = [i for i, b in enumerate(blocks) if b[0] == 'heading' and b[1] == 2 and plain(b[2]).upper() == 'NAME']
    head = []
    if names:
        # What precedes "## NAME" introduces the document page only.
        blocks = blocks[names[0]:]
    else:
        if not title_line:
            sys.exit('md2man: %s has no "## NAME" section: pass --title-line' % name)
        head = [('heading', 2, 'NAME'), ('para', [title_line])]
        if blocks and blocks[0][0] != 'heading':
            head.append(('heading', 2, 'DESCRIPTION'))
    out = ['.\\" Generated by scripts/md2man.py; edit the markdown source instead.',
           '.TH %s %s %s "homebattery %s" "%s"' % (escape(name.upper()), section, date, escape(version),
                                                   MANUALS.get(section, 'homebattery'))]
    return '\n'.join(out + render(head + blocks)) + '\n'


def source_date(path):
    """Reproducible: SOURCE_DATE_EPOCH if set, else the source's mtime."""
    epoch = os.environ.get('SOURCE_DATE_EPOCH')
    stamp = int(epoch) if epoch else int(os.stat(path).st_mtime)
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime('%Y-%m-%d')


def main():
    p = argparse.ArgumentParser(description='markdown (the subset of docs/) to man(7)')
    p.add_argument('--name', required=True)
    p.add_argument('--section', required=True)
    p.add_argument('--date', help='YYYY-MM-DD; default: SOURCE_DATE_EPOCH, else the mtime of IN')
    p.add_argument('--version', required=True)
    p.add_argument('--title-line', help='"NAME - summary", used when IN has no "## NAME" section')
    p.add_argument('input')
    p.add_argument('output')
    a = p.parse_args()
    with open(a.input, encoding='utf-8') as f:
        md = f.read()
    page = convert(md, a.name, a.section, a.date or source_date(a.input), a.version, a.title_line)
    tmp = a.output + '.tmp'
    with open(tmp, 'w', encoding='ascii') as f:
        f.write(page)
    os.replace(tmp, a.output)


if __name__ == '__main__':
    main()
