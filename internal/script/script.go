package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"
)

// Command is one program run.
type Command struct {
	// Argv is the program and its arguments; SplitWords makes it from a
	// keepalived command line. A bare program name is looked up in PATH.
	Argv []string
	// User and Group name the account to run as (keepalived's
	// script_user, MISC_CHECK's user). Empty User keeps ours; empty Group
	// takes User's primary group. Supplementary groups are dropped.
	User, Group string
	// Env is the environment; nil inherits ours.
	Env []string
	// Timeout bounds the run (misc_timeout); zero leaves it to ctx.
	Timeout time.Duration
	// KillGrace, when positive, makes a timeout send SIGTERM to the
	// process group first and SIGKILL only after this long, as keepalived
	// does (2 s there); zero sends SIGKILL at once. Run may return up to
	// KillGrace after the timeout.
	KillGrace time.Duration
	// Stdout and Stderr receive the program's output; nil discards it.
	Stdout, Stderr io.Writer
}

// Result is how a run ended.
type Result struct {
	// ExitCode is the exit status, or -1 when a signal ended the program.
	ExitCode int
	// Signal is the signal that ended the program, or 0.
	Signal syscall.Signal
	// TimedOut says the run outlived Timeout or ctx and its process group
	// was killed; Signal then says which signal ended it (usually SIGKILL,
	// or SIGTERM with KillGrace), unless it exited on its own in the grace
	// time.
	TimedOut bool
	// Duration is how long the program ran.
	Duration time.Duration
}

// pipeGrace is how long Run waits, after the program exits, for children
// it left behind to close an output pipe the caller passed.
const pipeGrace = 500 * time.Millisecond

// Run runs c and waits for it and, on timeout, kills its whole process
// group: a script's own children die with it. Run returns an error only
// when the program could not be started.
func Run(ctx context.Context, c Command) (Result, error) {
	if len(c.Argv) == 0 || c.Argv[0] == "" {
		return Result{}, errors.New("empty command")
	}
	if c.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Timeout)
		defer cancel()
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = c.Env
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	cmd.WaitDelay = pipeGrace
	// A group of its own lets a timeout reach the script's children,
	// which a kill of the script alone would leave running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if c.User != "" {
		cred, err := credential(c.User, c.Group)
		if err != nil {
			return Result{}, err
		}
		cmd.SysProcAttr.Credential = cred
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("run %s: %w", c.Argv[0], err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Result{}, fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var res Result
	select {
	case <-done:
	case <-ctx.Done():
		res.TimedOut = true
		killTree(pgid, c.KillGrace, done)
	}
	res.Duration = time.Since(start)
	st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case !ok:
		res.ExitCode = cmd.ProcessState.ExitCode()
	case st.Signaled():
		res.ExitCode, res.Signal = -1, st.Signal()
	default:
		res.ExitCode = st.ExitStatus()
	}
	return res, nil
}

// killTree ends process group pgid: SIGTERM and up to grace for it to
// go, then SIGKILL. It returns once the group leader is reaped (done has
// fired) and a last SIGKILL has reached any member still alive.
func killTree(pgid int, grace time.Duration, done <-chan error) {
	sig := syscall.SIGKILL
	if grace > 0 {
		sig = syscall.SIGTERM
	}
	// ESRCH only means the group is already gone.
	_ = syscall.Kill(-pgid, sig)
	if grace > 0 {
		t := time.NewTimer(grace)
		select {
		case <-done:
			t.Stop()
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			return
		case <-t.C:
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
	<-done
	// Members that ignored SIGTERM or were forked during the kill: the
	// group id cannot be reused while any member lives, so this reaches
	// only them.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// credential resolves a user (and group) name to the ids to run as.
func credential(userName, groupName string) (*syscall.Credential, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		return nil, fmt.Errorf("script user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script user %s: uid %q: %w", userName, u.Uid, err)
	}
	gidStr := u.Gid
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			return nil, fmt.Errorf("script group: %w", err)
		}
		gidStr = g.Gid
	}
	gid, err := strconv.ParseUint(gidStr, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("script group for %s: gid %q: %w", userName, gidStr, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}
