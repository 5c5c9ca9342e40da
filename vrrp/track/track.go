package track

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/sync/errgroup"
)

// Kind says what sort of object an Event or status line is about.
type Kind uint8

// The kinds of tracked object, in keepalived's words.
const (
	KindScript    Kind = iota // vrrp_script
	KindInterface             // track_interface
	KindFile                  // track_file (vrrp_track_file)
	KindProcess               // vrrp_track_process
)

var kindNames = [...]string{"script", "interface", "file", "process"}

// String returns k's name: script, interface, file or process.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// MarshalText returns k's name, so JSON shows "script", not 0.
func (k Kind) MarshalText() ([]byte, error) {
	if int(k) >= len(kindNames) {
		return nil, fmt.Errorf("unknown track kind %d", k)
	}
	return []byte(k.String()), nil
}

// Event is one change of a tracked object's state.
type Event struct {
	Name string // the vrrp_script, track_file or vrrp_track_process name, or the interface name
	Kind Kind
	// Up is the object's state. For a file it is Value == 0, keepalived's
	// reading of an unweighted track_file.
	Up bool
	// Value is a file's number (processes: the count of matches); the
	// instance multiplies a file's Value by its weight.
	Value  int
	Reason string // why, for logs: "exited with status 1", "carrier lost"
	At     time.Time
}

// State is an object's state in a Status line.
type State uint8

// The states of a tracked object. StateInit is a script that has not
// finished its first run yet (without init_fail): keepalived counts it
// neither up nor down.
const (
	StateInit State = iota
	StateUp
	StateDown
)

var stateNames = [...]string{"init", "up", "down"}

// String returns s's name: init, up or down.
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", s)
}

// MarshalText returns s's name.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("unknown track state %d", s)
	}
	return []byte(s.String()), nil
}

// Status is one tracked object's state, for xlbctl vrrp.
type Status struct {
	Name   string    `json:"name"`
	Kind   Kind      `json:"kind"`
	State  State     `json:"state"`
	Value  int       `json:"value,omitempty"` // file: the number read; process: matching processes
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since,omitzero"` // last change of State or Value
}

// Clock is the time source; tests pass a fake one.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options says what a Watcher tracks and how it reports.
type Options struct {
	Scripts    []Script
	Interfaces []string // track_interface names
	Files      []File
	Processes  []Process

	// Notify receives every Event, one call at a time, in order. It must
	// not block for long: watchers wait for it. It may call Status, which
	// already shows the event.
	Notify func(Event)

	// Runner runs scripts; nil means ExecRunner.
	Runner Runner
	// Clock is the time source; nil means the system clock.
	Clock Clock
	// Namespace is the network namespace whose links are tracked; nil
	// means the process's own.
	Namespace *netns.NsHandle
	// ProcessInterval is how often /proc is scanned; 0 means one second.
	ProcessInterval time.Duration
}

// Watcher watches the objects in its Options.
type Watcher struct {
	o   Options
	log *slog.Logger

	emitMu sync.Mutex // serialises Notify calls and their status updates

	mu     sync.Mutex
	status map[key]Status
}

type key struct {
	kind Kind
	name string
}

// New checks o and returns a Watcher for it; nothing runs until Run.
func New(o Options, log *slog.Logger) (*Watcher, error) {
	// Defaults are filled in below; keep them out of the caller's slices.
	o.Scripts = slices.Clone(o.Scripts)
	o.Interfaces = slices.Clone(o.Interfaces)
	o.Files = slices.Clone(o.Files)
	o.Processes = slices.Clone(o.Processes)
	if o.Runner == nil {
		o.Runner = ExecRunner{}
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.ProcessInterval <= 0 {
		o.ProcessInterval = time.Second
	}
	if o.ProcessInterval < 10*time.Millisecond {
		return nil, fmt.Errorf("process interval: want at least 10ms, got %v", o.ProcessInterval)
	}
	w := &Watcher{o: o, log: log, status: map[key]Status{}}
	var errs []error
	add := func(k Kind, name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", k, name, err))
			return
		}
		if name == "" {
			errs = append(errs, fmt.Errorf("%s: empty name", k))
			return
		}
		kk := key{k, name}
		if _, dup := w.status[kk]; dup {
			errs = append(errs, fmt.Errorf("%s %q: configured twice", k, name))
			return
		}
		w.status[kk] = Status{Name: name, Kind: k}
	}
	for i := range w.o.Scripts {
		add(KindScript, w.o.Scripts[i].Name, w.o.Scripts[i].normalize())
	}
	for _, name := range w.o.Interfaces {
		add(KindInterface, name, nil)
	}
	for i := range w.o.Files {
		add(KindFile, w.o.Files[i].Name, w.o.Files[i].normalize())
	}
	for i := range w.o.Processes {
		add(KindProcess, w.o.Processes[i].Name, w.o.Processes[i].normalize())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return w, nil
}

// Run watches until ctx ends and returns once every watcher goroutine has
// ended. Call it once per Watcher. It returns an error only when a watcher cannot start (no netlink
// subscription, no inotify).
func (w *Watcher) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for i := range w.o.Scripts {
		s := &w.o.Scripts[i]
		g.Go(func() error { w.runScript(ctx, s); return nil })
	}
	if len(w.o.Interfaces) > 0 {
		g.Go(func() error { return w.runInterfaces(ctx) })
	}
	if len(w.o.Files) > 0 {
		g.Go(func() error { return w.runFiles(ctx) })
	}
	if len(w.o.Processes) > 0 {
		g.Go(func() error { w.runProcesses(ctx); return nil })
	}
	return g.Wait()
}

// Status returns every tracked object's state, sorted by kind and name.
func (w *Watcher) Status() []Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Status, 0, len(w.status))
	for _, s := range w.status {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Status) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// emit records e in the status and hands it to Notify. A script's state
// is up or down from its first result on; other kinds have no init state.
func (w *Watcher) emit(e Event) {
	w.emitMu.Lock()
	defer w.emitMu.Unlock()
	st := StateDown
	if e.Up {
		st = StateUp
	}
	w.mu.Lock()
	k := key{e.Kind, e.Name}
	old := w.status[k]
	s := Status{Name: e.Name, Kind: e.Kind, State: st, Value: e.Value, Reason: e.Reason, Since: old.Since}
	if old.State != st || old.Value != e.Value || old.Since.IsZero() {
		s.Since = e.At
	}
	w.status[k] = s
	w.mu.Unlock()
	w.log.Info("tracked object changed", "kind", e.Kind, "name", e.Name, "up", e.Up, "value", e.Value, "reason", e.Reason)
	if w.o.Notify != nil {
		w.o.Notify(e)
	}
}

// note updates an object's status reason without an event: a change that
// does not move its state (a failing script that is already down).
func (w *Watcher) note(kind Kind, name, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key{kind, name}
	s := w.status[k]
	s.Reason = reason
	w.status[k] = s
}

// noteValue updates an object's value and reason without an event.
func (w *Watcher) noteValue(kind Kind, name string, value int, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := key{kind, name}
	s := w.status[k]
	s.Value, s.Reason = value, reason
	w.status[k] = s
}

// sleep waits d on the watcher's clock, or until ctx ends; it reports
// whether ctx is still live.
func (w *Watcher) sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-w.o.Clock.After(d):
		return true
	}
}
