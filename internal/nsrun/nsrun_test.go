package nsrun_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"xlb/internal/nsrun"
	"xlb/internal/testutil"
)

// errMarker is what fn returns, to see that Do hands it back untouched.
var errMarker = errors.New("marker")

func TestDoRunsInsideAndComesBack(t *testing.T) {
	ns := testutil.NetNS(t)
	// /proc/self is the thread group leader, which never leaves the
	// host's namespace.
	host, err := netns.GetFromPath("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close()

	tests := []struct {
		name string
		do   func(fn func() error) error
	}{
		{"Do", func(fn func() error) error { return nsrun.Do(ns.Handle, fn) }},
		{"DoNamed", func(fn func() error) error { return nsrun.DoNamed(ns.Name, fn) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var inside bool
			var links []string
			err := tc.do(func() error {
				cur, err := netns.Get()
				if err != nil {
					return err
				}
				defer cur.Close()
				inside = cur.Equal(ns.Handle)
				ll, err := netlink.LinkList()
				for _, l := range ll {
					links = append(links, l.Attrs().Name)
				}
				if err != nil {
					return err
				}
				return errMarker
			})
			if err != errMarker {
				t.Fatalf("%s returned %v, want fn's own error %v", tc.name, err, errMarker)
			}
			if !inside {
				t.Errorf("fn did not run in %s", ns.Name)
			}
			if diff := cmp.Diff([]string{"lo"}, links); diff != "" {
				t.Errorf("links seen inside %s (-want +got):\n%s", ns.Name, diff)
			}
			// The thread fn ran on went back to the pool; no goroutine
			// that lands on a thread now may find itself in ns.
			for i := range 2 * runtime.GOMAXPROCS(0) {
				if !onHostThread(t, host) {
					t.Fatalf("goroutine %d runs in a namespace other than the host's", i)
				}
			}
		})
	}
}

// onHostThread reports whether a new goroutine's thread is in host.
func onHostThread(t *testing.T, host netns.NsHandle) bool {
	t.Helper()
	res := make(chan bool, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		cur, err := netns.Get()
		if err != nil {
			t.Error(err)
			res <- false
			return
		}
		defer cur.Close()
		res <- cur.Equal(host)
	}()
	return <-res
}

func TestDoNamedMissing(t *testing.T) {
	testutil.RequireRoot(t)
	called := false
	err := nsrun.DoNamed(testutil.UniqueName("xlbt-absent-"), func() error {
		called = true
		return nil
	})
	if err == nil || called {
		t.Errorf("DoNamed on a namespace that does not exist: err %v, fn called %v; want an error and no call", err, called)
	}
}
