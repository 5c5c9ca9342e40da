package track

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStatusJSON(t *testing.T) {
	st := []Status{
		{Name: "chk", Kind: KindScript, State: StateInit},
		{Name: "f", Kind: KindFile, State: StateDown, Value: -3, Reason: "read -3", Since: t0},
		{Name: "p", Kind: KindProcess, State: StateUp, Value: 2},
	}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"chk","kind":"script","state":"init"},` +
		`{"name":"f","kind":"file","state":"down","value":-3,"reason":"read -3","since":"2026-01-02T03:04:05Z"},` +
		`{"name":"p","kind":"process","state":"up","value":2}]`
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if _, err := json.Marshal(Status{Kind: Kind(9)}); err == nil {
		t.Error("marshal of an unknown kind: no error")
	}
}

func TestStatusBeforeRun(t *testing.T) {
	scripts := []Script{{Name: "b", Argv: []string{"/bin/true"}}, {Name: "a", Argv: []string{"/bin/true"}}}
	w, err := New(Options{
		Scripts:    scripts,
		Interfaces: []string{"eth0"},
		Processes:  []Process{{Name: "p", Command: "x"}},
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []Status{
		{Name: "a", Kind: KindScript},
		{Name: "b", Kind: KindScript},
		{Name: "eth0", Kind: KindInterface},
		{Name: "p", Kind: KindProcess},
	}
	if diff := cmp.Diff(want, w.Status()); diff != "" {
		t.Errorf("Status (-want +got):\n%s", diff)
	}
	if scripts[0].Interval != 0 || scripts[0].Rise != 0 {
		t.Errorf("New filled defaults into the caller's scripts: %+v", scripts[0])
	}
}
