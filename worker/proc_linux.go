package worker

import (
	"os/exec"
	"syscall"
)

func dup2(oldfd, newfd int) error { return syscall.Dup3(oldfd, newfd, 0) }

// setProcAttr puts a worker in a process group of its own, so that a
// terminal's Ctrl-C reaches serve alone (which then gives runs their
// grace period) and a kill reaches anything the worker started; and asks
// the kernel to kill it if serve dies, so no worker outlives serve.
func setProcAttr(cmd *exec.Cmd, cgroupFD int) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if cgroupFD >= 0 {
		cmd.SysProcAttr.UseCgroupFD = true
		cmd.SysProcAttr.CgroupFD = cgroupFD
	}
}

// killGroup kills a worker and its process group.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
