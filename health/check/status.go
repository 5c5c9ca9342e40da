package check

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// HTTP status codes a StatusSet can hold: keepalived's range.
const (
	minStatus = 100
	maxStatus = 599
)

// StatusSet is a set of HTTP status codes from 100 to 599, as
// HTTP_GET's status_code lists them. The zero value is empty; an HTTP
// check treats an empty set as keepalived's default, 200-299.
type StatusSet struct {
	bits [(maxStatus - minStatus + 64) / 64]uint64
}

// DefaultStatus is what an HTTP check accepts when a URL names no
// status_code: any 2xx.
var DefaultStatus = MustParseStatusSet("200-299")

// ParseStatusSet parses a status_code value: codes and ranges separated
// by spaces or tabs, such as "200-299 301 400-499 503". Every code must
// lie in 100..599 and a range must not run backwards. An empty string is
// an error: keepalived's keyword needs at least one item.
func ParseStatusSet(s string) (StatusSet, error) {
	var set StatusSet
	items := strings.Fields(s)
	if len(items) == 0 {
		return set, errors.New("status_code: empty")
	}
	for _, item := range items {
		lo, hi, isRange := strings.Cut(item, "-")
		min, err := parseStatus(lo)
		if err != nil {
			return StatusSet{}, fmt.Errorf("status_code %q: %w", item, err)
		}
		max := min
		if isRange {
			if max, err = parseStatus(hi); err != nil {
				return StatusSet{}, fmt.Errorf("status_code %q: %w", item, err)
			}
			if min > max {
				return StatusSet{}, fmt.Errorf("status_code %q: range runs backwards", item)
			}
		}
		for c := min; c <= max; c++ {
			set.add(c)
		}
	}
	return set, nil
}

// MustParseStatusSet is ParseStatusSet that panics, for tests and
// constants.
func MustParseStatusSet(s string) StatusSet {
	set, err := ParseStatusSet(s)
	if err != nil {
		panic(err)
	}
	return set
}

// parseStatus parses one code: decimal digits only, no sign.
func parseStatus(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < minStatus || n > maxStatus {
		return 0, fmt.Errorf("want %d..%d, got %s", minStatus, maxStatus, s)
	}
	return n, nil
}

func (s *StatusSet) add(code int) {
	i := code - minStatus
	s.bits[i/64] |= 1 << (i % 64)
}

// Contains says whether code is in the set.
func (s StatusSet) Contains(code int) bool {
	if code < minStatus || code > maxStatus {
		return false
	}
	i := code - minStatus
	return s.bits[i/64]&(1<<(i%64)) != 0
}

// IsZero says whether the set is empty.
func (s StatusSet) IsZero() bool { return s == StatusSet{} }

// String writes the set in ParseStatusSet's form, ranges merged:
// "200-299 301".
func (s StatusSet) String() string {
	var parts []string
	for c := minStatus; c <= maxStatus; c++ {
		if !s.Contains(c) {
			continue
		}
		end := c
		for end+1 <= maxStatus && s.Contains(end+1) {
			end++
		}
		if end == c {
			parts = append(parts, strconv.Itoa(c))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", c, end))
		}
		c = end
	}
	return strings.Join(parts, " ")
}
