//go:build !linux

package worker

import (
	"os/exec"
	"syscall"
)

func dup2(oldfd, newfd int) error { return syscall.Dup2(oldfd, newfd) }

// setProcAttr puts a worker in a process group of its own. Outside Linux
// there is no parent-death signal: a worker notices serve's end when its
// standard input closes.
func setProcAttr(cmd *exec.Cmd, _ int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
