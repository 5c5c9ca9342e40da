package decap

import (
	"fmt"

	"xlb/internal/bpfutil"
)

// ReasonNames returns the name of every DecapReason below REASON_MAX,
// indexed by value, read from the program's BTF so the names follow the C:
// REASON_DECAP_IPIP -> "decap_ipip".
func ReasonNames() ([]string, error) {
	spec, err := LoadDecap()
	if err != nil {
		return nil, fmt.Errorf("load decap spec: %w", err)
	}
	return bpfutil.EnumNames(spec.Types, "reason", "REASON_", int(DecapReasonREASON_MAX))
}
