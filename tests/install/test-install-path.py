#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The install path of README.md and docs/installation.md, run command by command against scratch roots:
# every block after a "<!-- install-path: source|deb -->" marker is translated (sudo dropped, absolute
# paths moved into the root, systemctl -> systemctl --root / systemd-analyze verify --root, apt -> package
# checks or unpacking the .deb and running its postinst with DPKG_ROOT) and run. A command the translator
# does not know fails the test, so the docs cannot gain a step that nobody ran.
# Usage: test-install-path.py SOURCE_DIR   (as root the ownership steps and the service user are real)
import glob
import os
import pathlib
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

SRC = pathlib.Path(sys.argv[1]).resolve()
IS_ROOT = os.geteuid() == 0
ARCH = subprocess.run(['dpkg', '--print-architecture'], capture_output=True, text=True).stdout.strip()
# The sections of installation.md that are the install path: each must hold a marked block.
REQUIRED = ['The Debian package (recommended)', '1. Packages', '2. Build and install',
            '3. System user and D-Bus policy', '4. Configuration', '8. Start', '12. Upgrading',
            '13. Uninstalling']
MARKER = re.compile(r'^<!-- install-path: (source|deb) -->\s*$')


class Failure(Exception):
    pass


def blocks(path):
    """[(route, section, [command, ...])] of the marked blocks, in document order."""
    lines = path.read_text().splitlines()
    out, section, i = [], '', 0
    while i < len(lines):
        if lines[i].startswith('## '):
            section = lines[i][3:].strip()
        m = MARKER.match(lines[i])
        i += 1
        if not m:
            continue
        body = []
        if lines[i].startswith('```'):
            i += 1
            while not lines[i].startswith('```'):
                body.append(lines[i])
                i += 1
        else:
            while i < len(lines) and (lines[i].startswith('    ') or not lines[i].strip()):
                if lines[i].strip() == '' and (i + 1 >= len(lines) or not lines[i + 1].startswith('    ')):
                    break
                body.append(lines[i][4:])
                i += 1
        out.append((m.group(1), section, commands(body)))
    return out


def commands(body):
    text = '\n'.join(body).replace('\\\n', ' ')
    cmds = []
    for line in text.splitlines():
        line = re.sub(r'\s+#.*$', '', line).strip()
        cmds += [c.strip() for c in line.split('&&') if c.strip()]
    return cmds


def run(argv, env=None, check=True, **kw):
    r = subprocess.run(argv, env=env, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise Failure('%s: exit %d\n%s%s' % (' '.join(map(str, argv)), r.returncode, r.stdout[-2000:],
                                              r.stderr[-2000:]))
    return r


class Scenario:
    """One route in one scratch root, fed the docs' commands one by one."""
    package_built = None

    def __init__(self, name, tmp, build, host=False):
        self.name, self.build = name, build
        self.root = tmp / name.replace(' ', '-')  # the scratch root (host: only the notify socket)
        (self.root / 'etc').mkdir(parents=True)  # an empty system still has /etc
        self.prefix = '' if host else str(self.root)
        self.uninstalled = False

    # ---- helpers ----
    def path(self, p):
        return self.prefix + p if p.startswith('/') else p

    def ids(self):
        """uid, gid of homebattery in the scratch root's passwd."""
        for line in pathlib.Path(self.path('/etc/passwd')).read_text().splitlines():
            f = line.split(':')
            if f[0] == 'homebattery':
                return int(f[2]), int(f[3])
        raise Failure('no user homebattery in the scratch root')

    def as_service(self, argv):
        if not IS_ROOT:
            return argv
        uid, gid = self.ids()
        return ['setpriv', '--reuid=%d' % uid, '--regid=%d' % gid, '--clear-groups', '--'] + argv

    def env(self):
        e = dict(os.environ, HOMEBATTERY_DATADIR=self.path('/usr/share/homebattery') if self.prefix else '')
        for k in ('NOTIFY_SOCKET', 'JOURNAL_STREAM', 'WATCHDOG_USEC', 'MESON_EXE_WRAPPER'):
            e.pop(k, None)
        return e

    def unit_ready(self):
        """systemd's target units, so that verify --root can resolve the unit's dependencies."""
        unitdir = self.root / 'lib/systemd/system'
        for f in glob.glob('/lib/systemd/system/*.target'):
            if not (unitdir / os.path.basename(f)).exists():
                shutil.copy(f, unitdir)

    # ---- the translations ----
    def do(self, cmd):
        argv = shlex.split(cmd.replace('$(dpkg --print-architecture)', ARCH))
        if argv[:3] == ['sudo', '-u', 'homebattery']:
            return self.check_config(argv[3:])
        if argv[0] == 'sudo':
            argv = argv[1:]
        verb = argv[0]
        handler = {
            'apt': self.apt, 'apt-get': self.apt, 'git': self.skip, 'sudoedit': self.skip,
            'journalctl': self.skip, 'echo': self.skip, 'meson': self.meson, 'ninja': self.ninja,
            'systemctl': self.systemctl, 'systemd-sysusers': self.sysusers, 'install': self.install,
            './scripts/package': self.package,
        }.get(verb)
        if not handler:
            raise Failure('the test does not know this command of the docs: %s' % cmd)
        return handler(argv)

    def skip(self, argv):
        return 'skipped (interactive, network or log)'

    def apt(self, argv):
        if argv[1] == 'update':
            return self.skip(argv)
        if argv[1] != 'install':
            raise Failure('unknown apt command: %s' % ' '.join(argv))
        debs = [a for a in argv[2:] if a.endswith('.deb')]
        if debs:
            return self.install_deb(debs)
        pkgs = [a for a in argv[2:] if not a.startswith('-')]
        for p in pkgs:
            if run(['apt-cache', 'show', '--no-all-versions', p], check=False).returncode != 0:
                raise Failure('package %s is not known to apt' % p)
        return '%d packages known to apt' % len(pkgs)

    def meson(self, argv):
        if argv[1] == 'setup':
            opts = argv[3:]
            again = ['--reconfigure'] if (self.build / 'build.ninja').exists() else []
            run(['meson', 'setup'] + again + [str(self.build)] + opts, cwd=SRC)
            return 'configured %s' % ' '.join(opts)
        if argv[1] == 'test':
            rest = [a for a in argv[2:] if a not in ('-C', 'build')]
            r = run(['meson', 'test', '-C', str(self.build), '--num-processes', '2'] + rest)
            summary = [l.strip() for l in r.stdout.splitlines() if re.match(r'^(Ok|Fail):', l)]
            return ', '.join(' '.join(l.split()) for l in summary)
        if argv[1] == 'install':
            run(['meson', 'install', '-C', str(self.build), '--destdir', str(self.root), '--no-rebuild',
                 '--quiet'])
            for f in ('/usr/bin/homebattery', '/usr/share/man/man8/homebattery.8',
                      '/usr/share/homebattery/hm600-lut.csv', '/usr/share/doc/homebattery/config.example.json'):
                if not os.path.exists(self.path(f)):
                    raise Failure('meson install did not install %s' % f)
            return 'installed into the scratch root'
        raise Failure('unknown meson command: %s' % ' '.join(argv))

    def ninja(self, argv):
        if argv[-1] == 'uninstall':
            run(['ninja', '-C', str(self.build), 'uninstall'], env=dict(os.environ, DESTDIR=str(self.root)))
            left = [f for f in ('/usr/bin/homebattery', '/usr/lib/sysusers.d/homebattery.conf')
                    if os.path.exists(self.path(f))]
            if left:
                raise Failure('uninstall left %s' % left)
            self.uninstalled = True
            return 'uninstalled'
        run(['ninja', '-C', str(self.build)])
        return 'built'

    def sysusers(self, argv):
        run(['systemd-sysusers', '--root', str(self.root)])
        return 'user homebattery uid/gid %d/%d' % self.ids()

    def install(self, argv):
        out, i = ['install'], 1
        while i < len(argv):
            a = argv[i]
            if a in ('-o', '-g'):
                value = argv[i + 1]
                if IS_ROOT:
                    value = '0' if value == 'root' else str(self.ids()[1] if a == '-g' else self.ids()[0])
                    out += [a, value]
                i += 2
                continue
            out.append(self.path(a))
            i += 1
        run(out)
        return ' '.join(out[1:]).replace(str(self.root), '')

    def systemctl(self, argv):
        args = argv[1:]
        if args == ['daemon-reload']:
            if self.uninstalled:
                if (self.root / 'lib/systemd/system/homebattery.service').exists():
                    raise Failure('the unit is still there after uninstall')
                return 'unit gone'
            return self.verify()
        if args == ['reload', 'dbus']:
            policy = self.path('/usr/share/dbus-1/system.d/homebattery.conf')
            if self.uninstalled:
                if os.path.exists(policy):
                    raise Failure('the D-Bus policy is still there after uninstall')
                return 'D-Bus policy gone'
            ET.parse(policy)
            return 'D-Bus policy in place and well-formed'
        if args[0] in ('enable', 'disable'):
            run(['systemctl', '--root', str(self.root), args[0], 'homebattery'])
            link = self.root / 'etc/systemd/system/multi-user.target.wants/homebattery.service'
            if link.is_symlink() != (args[0] == 'enable'):
                raise Failure('systemctl %s did not change %s' % (args[0], link))
            note = self.verify() if args[0] == 'enable' else 'disabled'
            if '--now' in args and args[0] == 'enable':
                note += '; ' + self.start()
            return note
        if args[0] in ('start', 'restart'):
            return self.start()
        if args[0] == 'status':
            return self.skip(argv)
        raise Failure('unknown systemctl command: %s' % ' '.join(argv))

    def verify(self):
        self.unit_ready()
        r = run(['systemd-analyze', 'verify', '--root', str(self.root), 'homebattery.service'], check=False)
        if r.returncode != 0 or r.stderr.strip() or r.stdout.strip():
            raise Failure('systemd-analyze verify: %s%s' % (r.stdout, r.stderr))
        return 'unit verified'

    def check_config(self, argv):
        argv = [self.path(a) if a.startswith('/') else a for a in argv]
        argv[0] = self.path('/usr/bin/homebattery')
        r = run(self.as_service(argv), env=self.env(), check=False)
        if r.returncode != 0:
            raise Failure('the check as the service user: exit %d\n%s' % (r.returncode, r.stderr))
        verdict = r.stdout.strip()
        if IS_ROOT:
            # Anybody else cannot read the file, and the check says what to do instead.
            r = run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--'] + argv,
                    env=self.env(), check=False)
            if r.returncode != 78 or 'sudo -u homebattery' not in r.stderr:
                raise Failure('the check as nobody: exit %d, want 78 with a hint\n%s' % (r.returncode, r.stderr))
        return verdict

    def package(self, argv):
        if not Scenario.package_built:
            r = run(['./scripts/package'], cwd=SRC, env=dict(os.environ, DEB_BUILD_OPTIONS='nocheck'))
            if 'lintian: no errors' not in r.stdout:
                raise Failure('scripts/package: no lintian verdict\n' + r.stdout[-2000:])
            Scenario.package_built = True
        return 'package built, lintian: no errors'

    def install_deb(self, debs):
        found = [f for d in debs for f in glob.glob(str(SRC / d))]
        if len(found) != 1:
            raise Failure('want one package for %s, found %s' % (debs, found))
        control = self.root.parent / (self.root.name + '-control')
        run(['dpkg-deb', '-x', found[0], str(self.root)])
        run(['dpkg-deb', '-e', found[0], str(control)])
        # dpkg's chrootless mode: the maintainer script acts on DPKG_ROOT.
        env = dict(self.env(), DPKG_ROOT=str(self.root), DPKG_MAINTSCRIPT_PACKAGE='homebattery',
                   DPKG_MAINTSCRIPT_NAME='postinst')
        run(['sh', str(control / 'postinst'), 'configure', ''], env=env)
        conf = self.root / 'etc/homebattery/config.json'
        st = conf.stat()
        if IS_ROOT and (st.st_mode & 0o777 != 0o640 or st.st_gid != self.ids()[1]):
            raise Failure('postinst left config.json %o gid %d' % (st.st_mode & 0o777, st.st_gid))
        if not (control / 'conffiles').read_text().split() == ['/etc/homebattery/config.json']:
            raise Failure('conffiles: %s' % (control / 'conffiles').read_text())
        return 'unpacked, postinst configured (user, enabled, config root:homebattery 0640)'

    def start(self):
        """What systemctl start does, without systemd: ExecStart as User=, until READY=1, then SIGTERM."""
        unit = pathlib.Path(self.path('/lib/systemd/system/homebattery.service')).read_text()
        exec_start = shlex.split(re.search(r'^ExecStart=(.*)$', unit, re.M).group(1))
        argv = [self.path(a) if a.startswith('/') else a for a in exec_start]
        sock_path = str(self.root / 'notify.sock')
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        os.chmod(sock_path, 0o777)
        sock.settimeout(1)
        proc = subprocess.Popen(self.as_service(argv), env=dict(self.env(), NOTIFY_SOCKET=sock_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            ready, deadline = False, time.monotonic() + 30
            while not ready and time.monotonic() < deadline and proc.poll() is None:
                try:
                    ready = b'READY=1' in sock.recv(4096)
                except socket.timeout:
                    pass
            if not ready:
                raise Failure('the daemon did not report READY=1 (exit %s)' % proc.poll())
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=25)
            if rc != 0:
                raise Failure('the daemon exited %d after SIGTERM' % rc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stderr.close()
            sock.close()
            os.unlink(sock_path)
        return 'started as the service user: READY=1, SIGTERM -> exit 0'


def host_install(tmp):
    """On a throwaway CI machine (CI set, root, package not installed): the real apt install, the check and a
    start as the service user, then purge."""
    debs = glob.glob(str(SRC / 'build-deb' / ('homebattery_*_%s.deb' % ARCH)))
    if run(['dpkg-query', '-W', 'homebattery'], check=False).returncode == 0 or len(debs) != 1:
        return 'skipped: homebattery is installed already, or no package was built'
    env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
    run(['apt-get', 'install', '-y', '-q', debs[0]], env=env)
    try:
        r = run(['runuser', '-u', 'homebattery', '--', 'homebattery', '--check-config'])
        started = Scenario('host', tmp, None, host=True).start()
    finally:
        run(['apt-get', 'purge', '-y', '-q', 'homebattery'], env=env)
    if os.path.exists('/etc/homebattery'):
        raise Failure('purge left /etc/homebattery')
    return 'apt-get install: %s; %s; purged' % (r.stdout.strip(), started)


def main():
    results, failed = [], 0
    found = {'README.md': blocks(SRC / 'README.md'), 'docs/installation.md': blocks(SRC / 'docs/installation.md')}
    sections = {s for _, s, _ in found['docs/installation.md']}
    for s in REQUIRED:
        if s not in sections:
            print('not ok - docs/installation.md: section "%s" has no marked command block' % s)
            failed += 1
    for doc in ('README.md',):
        routes = {r for r, _, _ in found[doc]}
        if routes != {'source', 'deb'}:
            print('not ok - %s: want a marked block for each route, found %s' % (doc, sorted(routes)))
            failed += 1
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='hb-install-path.'))
    os.chmod(tmp, 0o755)  # the service user must reach the scratch roots
    build = tmp / 'build'
    try:
        for doc, bl in found.items():
            for route in ('source', 'deb'):
                sc = Scenario('%s %s' % (os.path.basename(doc).split('.')[0], route), tmp, build)
                # A failed step ends its scenario: the steps after it build on it.
                steps = [(section, cmd) for r, section, cmds in bl if r == route for cmd in cmds]
                for section, cmd in steps:
                    try:
                        note = sc.do(cmd)
                        print('ok - %s [%s] %s: %s' % (doc, section or route, cmd, note))
                    except (Failure, subprocess.TimeoutExpired, OSError, ET.ParseError) as e:
                        print('not ok - %s [%s] %s: %s' % (doc, section or route, cmd, e))
                        failed += 1
                        break
        if IS_ROOT and os.environ.get('CI'):
            try:
                print('ok - the package on this machine: %s' % host_install(tmp))
            except (Failure, subprocess.TimeoutExpired, OSError) as e:
                print('not ok - the package on this machine: %s' % e)
                failed += 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d failure(s)' % failed)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
