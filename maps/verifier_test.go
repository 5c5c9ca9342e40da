package maps

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/cilium/ebpf"

	"xlb/bpf"

	"xlb/internal/testutil"
)

// verifierBudget is how many instructions the verifier may process for
// xlb_xdp before this test calls it too close to the kernel's limit of a
// million (BPF_COMPLEXITY_LIMIT_INSNS), past which the program does not
// load at all. 601k in session 4 (docs/ARCHITECTURE.md, step 4 of the
// packet path, says what brought it down from 853k), about 505k with the
// set-associative connection tables of session 7 (bpf/conntab.h), about
// 732k with the NAT reverse tables made so too in session 8: their
// lookups are inline in the reply path, which a global function would
// keep at 665k at a cost of 4-6 ns a packet (bpf/nattab.h).
const verifierBudget = 850_000

var processedInsns = regexp.MustCompile(`processed (\d+) insns`)

// TestVerifierBudget loads the program with the verifier's statistics and
// fails when it processes more than verifierBudget instructions: a change
// that multiplies the verifier's paths shows here, before it reaches the
// limit and the data plane stops loading.
func TestVerifierBudget(t *testing.T) {
	testutil.RequireRoot(t)
	spec, err := bpf.LoadXlb()
	if err != nil {
		t.Fatal(err)
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Programs: ebpf.ProgramOptions{LogLevel: ebpf.LogLevelStats}})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	defer coll.Close()
	log := coll.Programs[bpf.XlbProgXlbXdp].VerifierLog
	m := processedInsns.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no \"processed N insns\" in the verifier's log:\n%s", log)
	}
	n, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("verifier processed %d instructions (budget %d, limit 1000000)", n, verifierBudget)
	if n > verifierBudget {
		t.Errorf("verifier processed %d instructions, over the budget of %d (the kernel's limit is 1000000): make new code a global function or cut its paths (docs/ARCHITECTURE.md)", n, verifierBudget)
	}
}
