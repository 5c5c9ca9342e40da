package bpfutil

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"
	"github.com/google/go-cmp/cmp"
)

// enumSpec is a BTF spec holding one enum, as a program's would.
func enumSpec(t *testing.T, values ...btf.EnumValue) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder([]btf.Type{&btf.Enum{Name: "reason", Size: 4, Values: values}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btf.LoadSpecFromReader(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestEnumNames(t *testing.T) {
	spec := enumSpec(t,
		btf.EnumValue{Name: "REASON_PASS_NOT_VIP", Value: 0},
		btf.EnumValue{Name: "REASON_TX", Value: 1},
		btf.EnumValue{Name: "REASON_MAX", Value: 2},
	)
	got, err := EnumNames(spec, "reason", "REASON_", 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"pass_not_vip", "tx"}, got); diff != "" {
		t.Errorf("EnumNames (-want +got):\n%s", diff)
	}
	gap := enumSpec(t,
		btf.EnumValue{Name: "REASON_PASS_NOT_VIP", Value: 0},
		btf.EnumValue{Name: "REASON_MAX", Value: 2},
	)
	if _, err := EnumNames(gap, "reason", "REASON_", 2); err == nil || !strings.Contains(err.Error(), "no name for value 1") {
		t.Errorf("EnumNames of an enum with a gap: %v, want an error naming the gap", err)
	}
	if _, err := EnumNames(spec, "verdict", "", 1); err == nil {
		t.Error("EnumNames of a missing enum succeeded")
	}
}

func TestEnsurePinDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("needs root (bpffs); CI runs as root")
	}
	dir := filepath.Join(BPFFSRoot, "xlb-bpfutil-test-"+strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := EnsurePinDir(dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if on, err := IsBPFFS(dir); err != nil || !on {
		t.Errorf("IsBPFFS(%s) = %v, %v after EnsurePinDir", dir, on, err)
	}
	notBPF := t.TempDir()
	if err := EnsurePinDir(notBPF, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "not on a bpf filesystem") {
		t.Errorf("EnsurePinDir(%s) = %v, want an error saying it is not bpffs", notBPF, err)
	}
}
