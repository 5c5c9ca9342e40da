package bpfutil

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// EnumNames reads the C enum called name from types and returns, for each
// value below max, its name without prefix, in lower case
// (REASON_PASS_NOT_VIP → "pass_not_vip"). Values from max on (the enum's
// own _MAX) are skipped; a value below max without a name is an error, so a
// gap in the C enum cannot go unnoticed.
func EnumNames(types *btf.Spec, name, prefix string, max int) ([]string, error) {
	var enum *btf.Enum
	if err := types.TypeByName(name, &enum); err != nil {
		return nil, fmt.Errorf("find enum %s in BTF: %w", name, err)
	}
	names := make([]string, max)
	for _, v := range enum.Values {
		if v.Value >= uint64(max) {
			continue
		}
		names[v.Value] = strings.ToLower(strings.TrimPrefix(v.Name, prefix))
	}
	for i, n := range names {
		if n == "" {
			return nil, fmt.Errorf("enum %s: no name for value %d", name, i)
		}
	}
	return names, nil
}
