// Package seccomp writes a Docker seccomp profile (the JSON format of
// "docker run --security-opt seccomp=FILE") that allows the system calls
// an application was seen making plus what the container runtime needs to
// start it.
package seccomp

import (
	"encoding/json"
	"sort"
)

// RuntimeMinimum are the calls runc and the dynamic loader need between
// the profile being applied and the application running (runc checks the
// program with faccessat2 after the filter is in place).
var RuntimeMinimum = []string{
	"access", "arch_prctl", "brk", "capget", "capset", "chdir", "close", "close_range", "dup2", "dup3", "epoll_ctl", "epoll_pwait",
	"epoll_wait", "execve", "exit", "exit_group", "faccessat", "faccessat2", "fchdir", "fchown", "fcntl", "fstat", "fstatfs", "futex", "getcwd",
	"getdents64", "getegid", "geteuid", "getgid", "getpid", "getppid", "getrandom", "gettid", "getuid", "lseek",
	"mmap", "mprotect", "munmap", "nanosleep", "newfstatat", "openat", "pread64", "prctl", "prlimit64", "read",
	"rseq", "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sched_getaffinity", "sched_yield", "seccomp",
	"set_robust_list", "set_tid_address", "setgid", "setgroups", "setuid", "sigaltstack", "stat", "statx",
	"tgkill", "uname", "write", "writev",
}

// Profile is a Docker seccomp profile.
type Profile struct {
	DefaultAction string   `json:"defaultAction"`
	Architectures []string `json:"architectures"`
	Syscalls      []Rule   `json:"syscalls"`
}

// Rule allows a set of calls.
type Rule struct {
	Names  []string `json:"names"`
	Action string   `json:"action"`
}

// New returns a profile allowing observed plus RuntimeMinimum; everything
// else fails with EPERM.
func New(observed []string) *Profile {
	set := map[string]bool{}
	for _, s := range append(append([]string{}, observed...), RuntimeMinimum...) {
		set[s] = true
	}
	names := make([]string, 0, len(set))
	for s := range set {
		names = append(names, s)
	}
	sort.Strings(names)
	return &Profile{
		DefaultAction: "SCMP_ACT_ERRNO",
		Architectures: []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		Syscalls:      []Rule{{Names: names, Action: "SCMP_ACT_ALLOW"}},
	}
}

// JSON encodes the profile.
func (p *Profile) JSON() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }
