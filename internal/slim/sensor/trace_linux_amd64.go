//go:build linux && amd64

package sensor

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pathArgs says where a traced system call keeps its path argument and,
// for the *at calls, its directory file descriptor (-1: none).
type pathArgs struct{ dirfd, path int }

// pathCalls are the x86-64 system calls whose path argument names a file
// the application needs.
var pathCalls = map[uint64]pathArgs{
	2:   {-1, 0}, // open
	4:   {-1, 0}, // stat
	6:   {-1, 0}, // lstat
	21:  {-1, 0}, // access
	59:  {-1, 0}, // execve
	76:  {-1, 0}, // truncate
	80:  {-1, 0}, // chdir
	85:  {-1, 0}, // creat
	89:  {-1, 0}, // readlink
	134: {-1, 0}, // uselib
	137: {-1, 0}, // statfs
	161: {-1, 0}, // chroot
	188: {-1, 0}, // setxattr
	191: {-1, 0}, // getxattr
	192: {-1, 0}, // lgetxattr
	254: {-1, 1}, // inotify_add_watch
	257: {0, 1},  // openat
	262: {0, 1},  // newfstatat
	267: {0, 1},  // readlinkat
	269: {0, 1},  // faccessat
	322: {0, 1},  // execveat
	332: {0, 1},  // statx
	437: {0, 1},  // openat2
	439: {0, 1},  // faccessat2
}

const (
	atFDCWD     = -100
	ptraceOpts  = syscall.PTRACE_O_TRACESYSGOOD | syscall.PTRACE_O_TRACEFORK | syscall.PTRACE_O_TRACEVFORK | syscall.PTRACE_O_TRACECLONE | syscall.PTRACE_O_TRACEEXEC | 0x100000 /* PTRACE_O_EXITKILL */
	syscallTrap = syscall.SIGTRAP | 0x80
	maxPath     = 4096
)

// thread is the tracer's view of one traced task.
type thread struct {
	inSyscall bool
	newborn   bool // a fresh clone whose initial SIGSTOP is still due
	nr        uint64
	path      string
}

type tracer struct {
	threads  map[int]*thread
	touched  set
	missing  set
	execs    set
	syscalls map[uint64]bool
	procs    int

	mu    sync.Mutex
	alive map[int]bool
}

// Trace starts o.Argv traced and returns what the process tree touched.
// In run mode SIGTERM and SIGINT are forwarded to the main process, and
// after a grace period everything still running is killed.
func Trace(o Options, run bool) (*Report, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	env := o.Env
	var sys syscall.SysProcAttr
	sys.Ptrace = true
	sys.Pdeathsig = syscall.SIGKILL
	if o.User != "" {
		cred, err := lookupUser("/", o.User)
		if err != nil {
			return nil, err
		}
		sys.Credential = &syscall.Credential{Uid: cred.uid, Gid: cred.gid, Groups: cred.groups}
		if o.SetHome {
			env = setEnv(env, "HOME", cred.home)
		}
	}
	argv0, err := lookPath(o.Argv[0], env)
	if err != nil {
		return &Report{ExitCode: 127}, err
	}
	t := &tracer{
		threads: map[int]*thread{}, touched: set{}, missing: set{}, execs: set{},
		syscalls: map[uint64]bool{}, alive: map[int]bool{},
	}
	t.touched.add(argv0)
	var fan *fanotify
	fanStatus := ""
	if run && !o.NoFanotify {
		fan, fanStatus = startFanotify()
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	pid, err := syscall.ForkExec(argv0, o.Argv, &syscall.ProcAttr{
		Dir: o.Dir, Env: env, Files: []uintptr{0, 1, 2}, Sys: &sys,
	})
	if err != nil {
		return &Report{ExitCode: 127}, fmt.Errorf("starting %s: %w", argv0, err)
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, syscall.WALL, nil); err != nil {
		return &Report{ExitCode: 127}, fmt.Errorf("waiting for %s to start: %w", argv0, err)
	}
	if err := syscall.PtraceSetOptions(pid, ptraceOpts); err != nil {
		syscall.Kill(pid, syscall.SIGKILL)
		return &Report{ExitCode: 127}, fmt.Errorf("ptrace: %w (the container needs CAP_SYS_PTRACE)", err)
	}
	t.threads[pid] = &thread{}
	t.setAlive(pid, true)
	t.procs = 1
	t.exec(pid)

	go func() {
		for s := range sigs {
			syscall.Kill(pid, s.(syscall.Signal))
			time.AfterFunc(3*time.Second, t.killAll)
		}
	}()

	exitCode := -1
	if err := syscall.PtraceSyscall(pid, 0); err != nil {
		return nil, fmt.Errorf("ptrace: %w", err)
	}
	for {
		wpid, err := syscall.Wait4(-1, &ws, syscall.WALL, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			break // ECHILD: nothing left to trace
		}
		if ws.Exited() || ws.Signaled() {
			delete(t.threads, wpid)
			t.setAlive(wpid, false)
			if wpid == pid {
				if ws.Exited() {
					exitCode = ws.ExitStatus()
				} else {
					exitCode = 128 + int(ws.Signal())
				}
				// Like a container whose init exits: stop everything else.
				t.killAll()
			}
			continue
		}
		if !ws.Stopped() {
			continue
		}
		th := t.threads[wpid]
		if th == nil {
			th = &thread{newborn: true}
			t.threads[wpid] = th
			t.setAlive(wpid, true)
			t.procs++
		}
		sig := ws.StopSignal()
		inject := 0
		switch {
		case sig == syscallTrap:
			t.syscallStop(wpid, th)
		case sig == syscall.SIGTRAP && ws.TrapCause() > 0:
			t.event(wpid, ws.TrapCause())
		case sig == syscall.SIGSTOP && th.newborn:
			th.newborn = false
		default:
			inject = int(sig)
		}
		syscall.PtraceSyscall(wpid, inject)
	}
	for _, p := range fan.seen() {
		t.touched.add(p)
	}
	rep := &Report{
		Touched: t.touched.sorted(), Missing: t.missing.sorted(), Execs: t.execs.sorted(),
		ExitCode: exitCode, Processes: t.procs, Fanotify: fanStatus,
	}
	for nr := range t.syscalls {
		if name, ok := syscallNames[nr]; ok {
			rep.Syscalls = append(rep.Syscalls, name)
		}
	}
	rep.Syscalls = set(toSet(rep.Syscalls)).sorted()
	return rep, nil
}

func toSet(v []string) set {
	s := set{}
	for _, x := range v {
		s.add(x)
	}
	return s
}

func (t *tracer) setAlive(pid int, alive bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if alive {
		t.alive[pid] = true
	} else {
		delete(t.alive, pid)
	}
}

func (t *tracer) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for pid := range t.alive {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// event handles a PTRACE_EVENT stop.
func (t *tracer) event(pid, cause int) {
	switch cause {
	case syscall.PTRACE_EVENT_FORK, syscall.PTRACE_EVENT_VFORK, syscall.PTRACE_EVENT_CLONE:
		msg, err := syscall.PtraceGetEventMsg(pid)
		if err != nil {
			return
		}
		child := int(msg)
		if _, ok := t.threads[child]; !ok {
			t.threads[child] = &thread{newborn: true}
			t.setAlive(child, true)
			t.procs++
		}
	case syscall.PTRACE_EVENT_EXEC:
		// A non-leader thread that execs takes over the leader's id.
		if msg, err := syscall.PtraceGetEventMsg(pid); err == nil && int(msg) != pid {
			if th, ok := t.threads[int(msg)]; ok {
				t.threads[pid] = th
				delete(t.threads, int(msg))
				t.setAlive(int(msg), false)
			}
		}
		t.exec(pid)
	}
}

// exec records the program a task now runs.
func (t *tracer) exec(pid int) {
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); err == nil && strings.HasPrefix(exe, "/") {
		t.touched.add(exe)
		t.execs.add(exe)
	}
}

// syscallStop handles a system-call entry or exit stop.
func (t *tracer) syscallStop(pid int, th *thread) {
	var regs syscall.PtraceRegs
	if err := syscall.PtraceGetRegs(pid, &regs); err != nil {
		th.inSyscall = !th.inSyscall
		return
	}
	if !th.inSyscall {
		th.inSyscall = true
		th.nr = regs.Orig_rax
		th.path = ""
		t.syscalls[th.nr] = true
		spec, ok := pathCalls[th.nr]
		if !ok {
			return
		}
		args := [...]uint64{regs.Rdi, regs.Rsi, regs.Rdx, regs.R10}
		p := readString(pid, uintptr(args[spec.path]))
		dirfd := int64(atFDCWD)
		if spec.dirfd >= 0 {
			dirfd = int64(int32(args[spec.dirfd]))
		}
		th.path = absPath(pid, dirfd, p)
		return
	}
	th.inSyscall = false
	if th.path == "" {
		return
	}
	ret := int64(regs.Rax)
	switch {
	case ret >= 0:
		t.touched.add(th.path)
	case ret == -int64(syscall.ENOENT), ret == -int64(syscall.ENOTDIR), ret == -int64(syscall.ENAMETOOLONG), ret == -int64(syscall.ELOOP):
		t.missing.add(th.path)
	case ret == -int64(syscall.ENOSYS):
		// seccomp or kernel refused the call itself: nothing was looked up.
	default:
		t.touched.add(th.path) // the file exists (EACCES, EEXIST, ...)
	}
	th.path = ""
}

// absPath makes p absolute against the task's directory fd or cwd.
func absPath(pid int, dirfd int64, p string) string {
	if p == "" {
		return ""
	}
	if strings.HasPrefix(p, "/") {
		return p
	}
	var base string
	var err error
	if dirfd == atFDCWD {
		base, err = os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	} else {
		base, err = os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, dirfd))
	}
	if err != nil || !strings.HasPrefix(base, "/") {
		return ""
	}
	return strings.TrimSuffix(base, "/") + "/" + p
}

// readString reads a NUL-terminated string from the tracee's memory.
func readString(pid int, addr uintptr) string {
	if addr == 0 {
		return ""
	}
	var out []byte
	var word [8]byte
	for len(out) < maxPath {
		aligned := addr &^ 7
		n, err := syscall.PtracePeekData(pid, aligned, word[:])
		if err != nil || n != 8 {
			return ""
		}
		for _, b := range word[addr-aligned:] {
			if b == 0 {
				return string(out)
			}
			out = append(out, b)
		}
		addr = aligned + 8
	}
	return ""
}
