package health

import (
	"context"
	"sync"
)

// queue is an unbounded FIFO with one consumer: producers (holding the
// Monitor's lock) never block on a slow consumer, and nothing is dropped
// or reordered.
type queue[T any] struct {
	mu    sync.Mutex
	items []T
	ready chan struct{}
}

func (q *queue[T]) init() { q.ready = make(chan struct{}, 1) }

func (q *queue[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// take removes and returns everything queued.
func (q *queue[T]) take() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	items := q.items
	q.items = nil
	return items
}

// pop removes and returns the oldest item.
func (q *queue[T]) pop() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var v T
	if len(q.items) == 0 {
		return v, false
	}
	v = q.items[0]
	clear(q.items[:1])
	q.items = q.items[1:]
	return v, true
}

// deliver hands each item to f, in order, until ctx is done; what is not
// delivered stays queued.
func (q *queue[T]) deliver(ctx context.Context, f func(T)) {
	for {
		for ctx.Err() == nil {
			v, ok := q.pop()
			if !ok {
				break
			}
			f(v)
		}
		select {
		case <-ctx.Done():
			return
		case <-q.ready:
		}
	}
}
