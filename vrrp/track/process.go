package track

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// ParamMatch is how a Process's Params are compared with a command line
// (param_match).
type ParamMatch uint8

// The ways of matching parameters.
const (
	// ParamDefault is ParamExact when Params are given, else no check.
	ParamDefault ParamMatch = iota
	// ParamExact wants exactly Params (none when Params is empty).
	ParamExact
	// ParamPartial wants Params as the first parameters; more may follow.
	ParamPartial
	// ParamInitial is ParamPartial where the last of Params may also be
	// the beginning of a longer parameter.
	ParamInitial
)

// Process is a vrrp_track_process: it is up while the number of
// matching processes is within Quorum..QuorumMax.
//
// keepalived follows processes through the kernel's proc connector; the
// watcher scans /proc every Options.ProcessInterval instead, so a change
// shows up to one interval late and a process that lives shorter than an
// interval may go unseen. Delays are measured from the scan that saw the
// change.
type Process struct {
	Name string // the vrrp_track_process name
	// Command is the process to look for (process). It is compared with
	// the process name (comm, at most 15 bytes, /proc/PID/stat) unless
	// FullCommand, Params or ParamMatch ask for the command line, whose
	// argv[0] must then equal it.
	Command     string
	Params      []string
	ParamMatch  ParamMatch
	FullCommand bool // full_command
	// Weight and Reverse are the default weight (weight N [reverse],
	// -254..254), applied by the instance.
	Weight  int
	Reverse bool
	// Quorum is the fewest matching processes that are up (quorum,
	// 1..65535); 0 means 1.
	Quorum int
	// QuorumMax is the most (quorum_max); 0 means no limit.
	QuorumMax int
	// NoneRunning is keepalived's quorum_max 0: up only while no
	// matching process runs. Quorum and QuorumMax must then be 0.
	NoneRunning bool
	// ForkDelay holds back up (fork_delay) and TerminateDelay down
	// (terminate_delay) until the new state has lasted that long, so a
	// restart does not bounce the instance (delay sets both).
	ForkDelay, TerminateDelay time.Duration
}

func (p *Process) normalize() error {
	if p.Command == "" {
		return errors.New("process: empty command")
	}
	if p.Weight < -254 || p.Weight > 254 {
		return fmt.Errorf("weight: want -254..254, got %d", p.Weight)
	}
	if p.ForkDelay < 0 || p.TerminateDelay < 0 {
		return errors.New("delay: want positive")
	}
	if p.NoneRunning {
		if p.Quorum != 0 || p.QuorumMax != 0 {
			return fmt.Errorf("quorum %d, quorum_max %d: want none with quorum_max 0", p.Quorum, p.QuorumMax)
		}
		return nil
	}
	if p.Quorum == 0 {
		p.Quorum = 1
	}
	if p.Quorum < 1 || p.Quorum > 65535 {
		return fmt.Errorf("quorum: want 1..65535, got %d", p.Quorum)
	}
	if p.QuorumMax != 0 && (p.QuorumMax < p.Quorum || p.QuorumMax > 65535) {
		return fmt.Errorf("quorum_max: want %d..65535, got %d", p.Quorum, p.QuorumMax)
	}
	if len(p.Params) > 0 && p.ParamMatch == ParamDefault {
		p.ParamMatch = ParamExact
	}
	if p.ParamMatch != ParamDefault {
		p.FullCommand = true
	}
	return nil
}

// within reports whether n matching processes make p up.
func (p *Process) within(n int) bool {
	if p.NoneRunning {
		return n == 0
	}
	return n >= p.Quorum && (p.QuorumMax == 0 || n <= p.QuorumMax)
}

// matches reports whether a process with name comm and command line
// cmdline (NUL-separated, as in /proc/PID/cmdline) is one of p's.
func (p *Process) matches(comm string, cmdline []byte) bool {
	if !p.FullCommand {
		return comm == p.Command
	}
	arg0, params, _ := bytes.Cut(cmdline, []byte{0})
	if len(cmdline) == 0 || string(arg0) != p.Command {
		return false
	}
	if p.ParamMatch == ParamDefault {
		return true
	}
	// Compare as keepalived does, on the NUL-terminated words, so a
	// prefix of the bytes is a prefix of the parameters.
	var want []byte
	for _, s := range p.Params {
		want = append(append(want, s...), 0)
	}
	switch p.ParamMatch {
	case ParamExact:
		return bytes.Equal(params, want)
	case ParamPartial:
		return bytes.HasPrefix(params, want)
	default: // ParamInitial
		return len(want) == 0 || bytes.HasPrefix(params, want[:len(want)-1])
	}
}

// debounce turns a count into a reported state with fork and terminate
// delays: a new state is reported once it has lasted its delay, and a
// return to the reported state before then cancels it.
type debounce struct {
	known   bool
	up      bool
	pending bool
	since   time.Time // when the pending state was first seen
}

// step takes the state seen at now and reports whether the reported
// state changes (to want).
func (d *debounce) step(want bool, now time.Time, upDelay, downDelay time.Duration) bool {
	if !d.known {
		d.known, d.up = true, want
		return true
	}
	if want == d.up {
		d.pending = false
		return false
	}
	delay := downDelay
	if want {
		delay = upDelay
	}
	if !d.pending {
		d.pending, d.since = true, now
	}
	if now.Sub(d.since) < delay {
		return false
	}
	d.pending, d.up = false, want
	return true
}

// procEntry is one process seen in /proc.
type procEntry struct {
	comm    string
	cmdline []byte
}

// scanProc lists the live (not zombie) processes under root. needCmdline
// says whether any tracked process matches on the command line, which
// costs a read of the process's memory.
func scanProc(root string, needComm, needCmdline bool) ([]procEntry, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", root, err)
	}
	var out []procEntry
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || name[0] < '1' || name[0] > '9' {
			continue
		}
		var pe procEntry
		if needComm {
			stat, err := os.ReadFile(root + "/" + name + "/stat")
			if err != nil {
				continue // gone meanwhile
			}
			comm, state, ok := parseStat(stat)
			if !ok || state == 'Z' {
				continue
			}
			pe.comm = comm
		}
		if needCmdline {
			cl, err := os.ReadFile(root + "/" + name + "/cmdline")
			if err != nil {
				continue
			}
			pe.cmdline = cl
		}
		out = append(out, pe)
	}
	return out, nil
}

// parseStat finds comm and state in /proc/PID/stat: "pid (comm) S ...".
// comm may itself hold ')' and spaces, so the last ')' ends it.
func parseStat(b []byte) (comm string, state byte, ok bool) {
	s := string(b)
	open := strings.IndexByte(s, '(')
	end := strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 >= len(s) {
		return "", 0, false
	}
	return s[open+1 : end], s[end+2], true
}

// runProcesses scans /proc every ProcessInterval and emits an event when
// a tracked process's quorum state changes (after its delay).
func (w *Watcher) runProcesses(ctx context.Context) {
	var needComm, needCmdline bool
	for i := range w.o.Processes {
		if w.o.Processes[i].FullCommand {
			needCmdline = true
		} else {
			needComm = true
		}
	}
	states := make([]debounce, len(w.o.Processes))
	counts := make([]int, len(w.o.Processes))
	for {
		procs, err := scanProc("/proc", needComm, needCmdline)
		if err != nil {
			w.log.Error("scan processes", "err", err)
		} else {
			now := w.o.Clock.Now()
			for i := range w.o.Processes {
				p := &w.o.Processes[i]
				n := 0
				for _, pe := range procs {
					if p.matches(pe.comm, pe.cmdline) {
						n++
					}
				}
				d := &states[i]
				reason := fmt.Sprintf("%d running", n)
				switch {
				case d.step(p.within(n), now, p.ForkDelay, p.TerminateDelay):
					w.emit(Event{Name: p.Name, Kind: KindProcess, Up: d.up, Value: n, Reason: reason, At: now})
				case n != counts[i]:
					// A count that moves the state only after a delay,
					// or not at all, still shows in Status.
					w.log.Debug("tracked process count", "name", p.Name, "count", n)
					w.noteValue(KindProcess, p.Name, n, reason)
				}
				counts[i] = n
			}
		}
		if !w.sleep(ctx, w.o.ProcessInterval) {
			return
		}
	}
}
