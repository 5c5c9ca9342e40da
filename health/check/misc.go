package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"xlb/internal/script"
)

// MiscOptions configures MISC_CHECK.
type MiscOptions struct {
	// Argv is misc_path split into words (script.SplitWords); there is
	// no shell unless Argv[0] is one.
	Argv []string
	// Timeout is misc_timeout: the script's process group is killed when
	// it runs longer. Zero leaves the bound to the caller's ctx, or
	// DefaultTimeout when ctx has none, so no script runs forever.
	Timeout time.Duration
	// KillGrace, when positive, sends SIGTERM on timeout and SIGKILL only
	// this long after, as keepalived does (2 s); zero kills at once.
	KillGrace time.Duration
	// Dynamic is misc_dynamic: exit codes 2..255 pass and set the weight
	// to code-2.
	Dynamic bool
	// User and Group run the script as another account (user, or the
	// global script_user).
	User, Group string
	// Env is the script's environment; nil inherits ours.
	Env []string
	// Output receives the script's stdout and stderr; nil discards them.
	Output io.Writer
}

// Misc is MISC_CHECK: it runs a program and judges its exit code.
type Misc struct {
	opts MiscOptions
}

// NewMisc validates o and returns the checker. It does not apply
// enable_script_security: the control plane calls script.CheckSecurity
// once when it loads the config, as keepalived does.
func NewMisc(o MiscOptions) (*Misc, error) {
	switch {
	case len(o.Argv) == 0 || o.Argv[0] == "":
		return nil, errors.New("MISC_CHECK: misc_path: missing")
	case o.Timeout < 0:
		return nil, fmt.Errorf("MISC_CHECK: misc_timeout: want >= 0, got %s", o.Timeout)
	case o.KillGrace < 0:
		return nil, fmt.Errorf("MISC_CHECK: kill grace: want >= 0, got %s", o.KillGrace)
	}
	o.Argv = append([]string(nil), o.Argv...)
	return &Misc{opts: o}, nil
}

// Check runs the program once and waits for it, or kills it on timeout.
func (c *Misc) Check(ctx context.Context) Result {
	start := time.Now()
	timeout := c.opts.Timeout
	if timeout == 0 && !hasDeadline(ctx) {
		timeout = DefaultTimeout
	}
	res, err := script.Run(ctx, script.Command{
		Argv:      c.opts.Argv,
		User:      c.opts.User,
		Group:     c.opts.Group,
		Env:       c.opts.Env,
		Timeout:   timeout,
		KillGrace: c.opts.KillGrace,
		Stdout:    c.opts.Output,
		Stderr:    c.opts.Output,
	})
	if err != nil {
		return fail(start, "%v", err)
	}
	r := MiscResult(res, c.opts.Dynamic)
	r.Latency = time.Since(start)
	return r
}

// MiscResult maps how a MISC_CHECK script ended onto a Result, as
// keepalived does: exit 0 passes; 1 fails; 2..255 pass with weight
// code-2 under misc_dynamic and fail without; a timeout or a signal
// fails. Latency is left to the caller.
func MiscResult(res script.Result, dynamic bool) Result {
	switch {
	case res.TimedOut:
		return Result{Reason: "timed out, killed"}
	case res.Signal != 0:
		return Result{Reason: fmt.Sprintf("killed by signal %d (%s)", int(res.Signal), res.Signal)}
	case res.ExitCode == 0:
		return Result{Up: true, Reason: "exit 0"}
	case dynamic && res.ExitCode >= 2 && res.ExitCode <= 255:
		return Result{
			Up:        true,
			Reason:    fmt.Sprintf("exit %d, weight %d", res.ExitCode, res.ExitCode-2),
			Weight:    res.ExitCode - 2,
			HasWeight: true,
		}
	default:
		return Result{Reason: fmt.Sprintf("exit %d", res.ExitCode)}
	}
}

func (c *Misc) String() string { return "MISC_CHECK " + script.JoinWords(c.opts.Argv) }
