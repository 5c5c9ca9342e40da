package track

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// File is a track_file: a file holding a number that a program (or an
// operator) writes; 0 means fine.
type File struct {
	Name string // the track_file name
	Path string // file
	// Weight and Reverse are the default weight (weight N [reverse],
	// -254..254); the instance multiplies the value by it.
	Weight  int
	Reverse bool
	// Init writes InitValue to Path when Run starts if the file does
	// not exist, or always with Overwrite (init_file [VALUE] [overwrite]).
	Init      bool
	InitValue int
	Overwrite bool
}

func (f *File) normalize() error {
	if f.Path == "" {
		return errors.New("file: empty path")
	}
	if f.Weight < -254 || f.Weight > 254 {
		return fmt.Errorf("weight: want -254..254, got %d", f.Weight)
	}
	return nil
}

// maxFileRead is how much of a track file counts (keepalived reads 127
// bytes into a 128-byte buffer).
const maxFileRead = 127

// ParseValue reads a track file's content as keepalived does with
// strtol(buf, NULL, 0): leading white space, an optional sign, then a
// decimal, 0x-hex or 0-octal number; whatever follows is ignored, and
// no number at all is 0. Only the first 127 bytes count, up to a NUL. ok
// is false for a number outside -2^31..2^31 (sic: keepalived allows
// 2^31), which keepalived ignores, keeping the previous value.
func ParseValue(b []byte) (v int64, ok bool) {
	b = b[:min(len(b), maxFileRead)]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	neg := false
	if i < len(b) && (b[i] == '+' || b[i] == '-') {
		neg = b[i] == '-'
		i++
	}
	base := uint64(10)
	switch {
	case i+2 < len(b) && b[i] == '0' && (b[i+1] == 'x' || b[i+1] == 'X') && digit(b[i+2], 16) >= 0:
		base, i = 16, i+2
	case i < len(b) && b[i] == '0':
		base = 8
	}
	// Anything past this is out of range however it goes on; stop
	// there so the sum cannot overflow.
	const limit = 1 << 40
	var n uint64
	for ; i < len(b); i++ {
		d := digit(b[i], base)
		if d < 0 {
			break
		}
		if n < limit {
			n = n*base + uint64(d)
		}
	}
	if n > math.MaxInt32+1 {
		return 0, false
	}
	v = int64(n)
	if neg {
		v = -v
	}
	return v, true
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// digit returns c's value in base, or -1.
func digit(c byte, base uint64) int {
	var d int
	switch {
	case c >= '0' && c <= '9':
		d = int(c - '0')
	case c >= 'a' && c <= 'z':
		d = int(c-'a') + 10
	case c >= 'A' && c <= 'Z':
		d = int(c-'A') + 10
	default:
		return -1
	}
	if uint64(d) >= base {
		return -1
	}
	return d
}

// readValue reads and parses a track file. A file that is missing,
// unreadable or empty holds 0 (keepalived); ok is false only for a number
// out of range.
func readValue(path string) (v int64, ok bool, reason string) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, true, "missing"
		}
		return 0, true, fmt.Sprintf("unreadable: %v", err)
	}
	defer f.Close()
	buf := make([]byte, maxFileRead)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, true, fmt.Sprintf("unreadable: %v", err)
	}
	v, ok = ParseValue(buf[:n])
	if !ok {
		return 0, false, "value out of range"
	}
	return v, true, "read " + strconv.FormatInt(v, 10)
}

// resolvePath returns path with its directory made absolute and free of
// symlinks (the file itself too when it exists), as keepalived's
// realpath, so inotify watches the directory the file really lives in.
func resolvePath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		return real, nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("directory of %s: %w", path, err)
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// initFile writes f's init value as keepalived's init_file does.
func initFile(f *File, path string) error {
	if !f.Init {
		return nil
	}
	if _, err := os.Stat(path); err == nil && !f.Overwrite {
		return nil
	}
	return os.WriteFile(path, []byte(strconv.Itoa(f.InitValue)+"\n"), 0o644)
}

// trackedFile is one File being watched.
type trackedFile struct {
	f      *File
	path   string
	value  int64
	known  bool
	broken bool // its directory could not be watched: no events
}

// inotifyMask is keepalived's: a file written and closed, deleted, or
// moved in or out of the directory.
const inotifyMask = unix.IN_CLOSE_WRITE | unix.IN_DELETE | unix.IN_MOVE

// runFiles watches the tracked files' directories with inotify and
// re-reads a file when it is closed after writing, moved or deleted.
func (w *Watcher) runFiles(ctx context.Context) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("inotify init: %w", err)
	}
	// A non-blocking descriptor in an os.File goes through the runtime
	// poller, so Close wakes a blocked Read at shutdown.
	in := os.NewFile(uintptr(fd), "inotify")
	closed := make(chan struct{})
	stop := context.AfterFunc(ctx, func() { in.Close(); close(closed) })
	defer func() {
		if stop() {
			in.Close()
		} else {
			<-closed
		}
	}()

	byWatch := map[int32][]*trackedFile{}
	var all []*trackedFile
	for i := range w.o.Files {
		f := &w.o.Files[i]
		t := &trackedFile{f: f}
		all = append(all, t)
		path, err := resolvePath(f.Path)
		if err == nil {
			t.path = path
			if err := initFile(f, path); err != nil {
				w.log.Error("init track file", "name", f.Name, "path", path, "err", err)
			}
			var wd int
			wd, err = unix.InotifyAddWatch(fd, filepath.Dir(path), inotifyMask)
			if err == nil {
				byWatch[int32(wd)] = append(byWatch[int32(wd)], t)
			}
		}
		if err != nil {
			// keepalived drops such a file from tracking: say so and
			// send nothing for it.
			t.broken = true
			w.log.Error("cannot watch track file, ignoring it", "name", f.Name, "path", f.Path, "err", err)
			w.note(KindFile, f.Name, fmt.Sprintf("not watched: %v", err))
			continue
		}
		w.readFile(t)
	}

	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := in.Read(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read inotify: %w", err)
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			wd := int32(binary.NativeEndian.Uint32(buf[off:]))
			mask := binary.NativeEndian.Uint32(buf[off+4:])
			nameLen := int(binary.NativeEndian.Uint32(buf[off+12:]))
			nameEnd := min(off+unix.SizeofInotifyEvent+nameLen, n)
			name := string(bytes.TrimRight(buf[off+unix.SizeofInotifyEvent:nameEnd], "\x00"))
			off = nameEnd
			switch {
			case mask&unix.IN_Q_OVERFLOW != 0:
				// Events were lost: read every file again.
				w.log.Warn("inotify queue overflowed, re-reading track files")
				for _, t := range all {
					if !t.broken {
						w.readFile(t)
					}
				}
			case mask&unix.IN_IGNORED != 0:
				for _, t := range byWatch[wd] {
					w.log.Warn("track file directory gone, no longer watched", "name", t.f.Name, "path", t.path)
				}
			case mask&unix.IN_ISDIR != 0:
			default:
				for _, t := range byWatch[wd] {
					if filepath.Base(t.path) == name {
						w.readFile(t)
					}
				}
			}
		}
	}
}

// readFile reads t and emits an event when its value changed (and the
// first time). An out-of-range number is ignored, as in keepalived.
func (w *Watcher) readFile(t *trackedFile) {
	v, ok, reason := readValue(t.path)
	if !ok {
		w.log.Warn("track file value out of range, ignored", "name", t.f.Name, "path", t.path)
		w.note(KindFile, t.f.Name, reason)
		return
	}
	if t.known && v == t.value {
		return
	}
	t.known, t.value = true, v
	w.emit(Event{Name: t.f.Name, Kind: KindFile, Up: v == 0, Value: int(v), Reason: reason, At: w.o.Clock.Now()})
}
