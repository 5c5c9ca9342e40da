package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"time"
)

// maxTrackFile is how much of a track file keepalived reads.
const maxTrackFile = 127

// ErrTrackValue reports a track file value out of keepalived's range.
var ErrTrackValue = errors.New("track file value out of range")

// FileOptions configures FILE_CHECK.
type FileOptions struct {
	// Path is the file of the track_file the check names.
	Path string
	// Weight multiplies the value (FILE_CHECK's weight, else the
	// track_file's, else 1: the control plane fills in keepalived's
	// default, since 0 is meaningful). With 0, a non-zero value fails
	// the check and 0 passes it.
	Weight int32
	// Reverse negates Weight; with Weight 0 it makes 0 fail and any
	// other value pass.
	Reverse bool
}

// File is FILE_CHECK: it reads a number from a file. With weight 0 the
// number is a status (0 up); otherwise value×weight is an offset to the
// real's weight, and the check fails only when the product reaches
// -2147483648, keepalived's fault value. A missing or empty file reads
// as 0, as in keepalived.
type File struct {
	opts FileOptions
}

// NewFile validates o and returns the checker.
func NewFile(o FileOptions) (*File, error) {
	if o.Path == "" {
		return nil, errors.New("FILE_CHECK: track_file: no file")
	}
	return &File{opts: o}, nil
}

// Check reads the file once. keepalived watches the file with inotify;
// here the schedule that calls Check decides how soon a change is seen.
func (c *File) Check(ctx context.Context) Result {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return fail(start, "%v", err)
	}
	v, err := readTrackFile(c.opts.Path)
	if err != nil {
		return fail(start, "%v", err)
	}
	r := FileResult(v, c.opts.Weight, c.opts.Reverse)
	r.Latency = time.Since(start)
	return r
}

// readTrackFile reads the value in path; a missing file is 0.
func readTrackFile(path string) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, maxTrackFile)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	v, err := ParseTrackValue(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// FileResult maps a track file value onto a Result as keepalived does
// for a real server. Latency is left to the caller.
func FileResult(value int64, weight int32, reverse bool) Result {
	if weight == 0 {
		if (value != 0) != reverse {
			return Result{Reason: fmt.Sprintf("file value %d", value)}
		}
		return Result{Up: true, Reason: fmt.Sprintf("file value %d", value)}
	}
	mult := int64(weight)
	if reverse {
		mult = -mult
	}
	// |value| <= 2^31 and |mult| < 2^31: the product fits in int64.
	offset := value * mult
	if offset <= math.MinInt32 {
		return Result{Reason: fmt.Sprintf("file value %d × weight %d is fault", value, mult)}
	}
	offset = min(offset, math.MaxInt32)
	return Result{
		Up:           true,
		Reason:       fmt.Sprintf("file value %d, weight offset %d", value, offset),
		Weight:       int(offset),
		HasWeight:    true,
		WeightOffset: true,
	}
}

// ParseTrackValue reads a track file's contents as keepalived does, with
// C's strtol in base 0: leading white space, an optional sign, then a
// hex (0x), octal (leading 0) or decimal number; anything after the
// number is ignored, and no number at all reads as 0. A value outside
// -2147483648..2147483648 is an error (keepalived ignores it).
func ParseTrackValue(b []byte) (int64, error) {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] >= '\t' && b[i] <= '\r') {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') && isHexDigit(b[i+2]):
		base, i = 16, i+2
	case i < len(b) && b[i] == '0':
		base = 8
	}
	const limit = 1 << 40 // far past the range; stops growth
	var v uint64
	for ; i < len(b); i++ {
		d := digitVal(b[i])
		if d >= base {
			break
		}
		if v < limit {
			v = v*base + d
		}
	}
	if v > math.MaxInt32+1 {
		return 0, fmt.Errorf("%q: %w", b, ErrTrackValue)
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

func isHexDigit(c byte) bool { return digitVal(c) < 16 }

// digitVal is c's value as a digit in bases up to 16, or 99.
func digitVal(c byte) uint64 {
	switch {
	case c >= '0' && c <= '9':
		return uint64(c - '0')
	case c >= 'a' && c <= 'f':
		return uint64(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return uint64(c-'A') + 10
	}
	return 99
}

func (c *File) String() string { return "FILE_CHECK " + c.opts.Path }
