// Package health runs health checkers with keepalived's semantics and
// reports each real server's state changes.
//
// A Monitor holds virtual services, their reals and each real's checks
// (check.Checker values built by the control plane). It decides when each
// check runs (delay_loop, warmup, delay_before_retry), when a check is up
// or down (retry, alpha, rise and fall), when a real is up (all its checks
// up) and with what weight (misc_dynamic, slow start), and whether a
// service has quorum (quorum, hysteresis). It runs notify_up, notify_down,
// quorum_up and quorum_down through a Notifier, pauses the checks of
// ha_suspend services while this node is not master, and reports every
// change once, in order, to a callback.
//
// One scheduler goroutine keeps a timer heap of every check's next run and
// hands due checks to a bounded pool of workers, so ten thousand checks
// cost ten thousand heap entries, not ten thousand sleeping goroutines.
// Time comes from a Clock, so tests run in fake time.
package health
