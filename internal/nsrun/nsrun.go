package nsrun

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Do runs fn on a locked OS thread that has entered the namespace target,
// and returns fn's error as it is. Other errors say which step of entering
// or leaving target went wrong. target stays open; the caller closes it.
func Do(target netns.NsHandle, fn func() error) error {
	return do(target, target.String(), fn)
}

// DoNamed is Do for the namespace that `ip netns` calls name
// (/run/netns/name).
func DoNamed(name string, fn func() error) error {
	target, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("open netns %s: %w", name, err)
	}
	defer target.Close()
	return do(target, name, fn)
}

// do is Do with label naming target in errors.
func do(target netns.NsHandle, label string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Every early return below leaves the thread locked on purpose:
		// it may be in the wrong namespace and must not serve other
		// goroutines.
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("get current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			errc <- fmt.Errorf("enter netns %s: %w", label, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("leave netns %s: %w", label, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
