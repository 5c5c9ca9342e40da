package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"
)

// addSeeds seeds f with every keepalived.conf in testdata/config and with inputs that
// exercise the lexer's corners.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob("../testdata/config/*.conf")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files in ../testdata/config: %v", err)
	}
	more, _ := filepath.Glob("../testdata/config/*/*.conf")
	files = append(files, more...)
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		`a"b c"d \#x \\#y 'q' {}}{`,
		"virtual_server 198.18.0.1 80{protocol TCP\nreal_server 198.18.1.1 80{}}",
		"x \"unterminated\n\\",
		"include a\n@x y\n$A=1\n~SEQ(i,1,2) z {",
		"include inc/*.conf\ninclude /abs.conf\ninclude loop.conf\n$M=a \\\n b\n$M\n~SEQx(i, 3) v$i ${_ENV X} ${_RANDOM 1 2}\n@lb1 global_defs { router_id $_INSTANCE }\n",
		"$A=$A$A\n$A\n~SEQ(i,1,1,3) ~SEQ(j,1,1,4096) $i$j\n",
	} {
		f.Add([]byte(s))
	}
}

// kindsAndTexts drops positions, which change when tokens are re-joined.
func kindsAndTexts(toks []token) []token {
	out := make([]token, len(toks))
	for i, t := range toks {
		out[i] = token{Kind: t.Kind, Text: t.Text}
	}
	return out
}

// FuzzLex checks that lexing never panics, that positions are sane and increasing, and that
// tokens written back as source lex to the same tokens.
func FuzzLex(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, src []byte) {
		toks, _ := lex("f", src)
		for i, tok := range toks {
			if tok.Pos.Line < 1 || tok.Pos.Col < 1 {
				t.Fatalf("token %d %+v has a position before the start", i, tok)
			}
			if i > 0 && comparePos(toks[i-1].Pos, tok.Pos) >= 0 {
				t.Fatalf("token %d %+v does not come after %+v", i, tok, toks[i-1])
			}
		}
		again := joinTokens(toks)
		toks2, errs := lex("f", []byte(again))
		if len(errs) > 0 {
			t.Fatalf("re-joined source %q has errors: %v", again, errs)
		}
		if diff := cmp.Diff(kindsAndTexts(toks), kindsAndTexts(toks2)); diff != "" {
			t.Fatalf("re-lexing %q (-first +second):\n%s", again, diff)
		}
	})
}

// fuzzFiles are the files include lines reach while fuzzing, instead of the host's.
var fuzzFiles = fstest.MapFS{
	"inc/a.conf": {Data: []byte("virtual_server 198.18.0.1 80 {\n protocol TCP\n real_server 198.18.1.1 80 { }\n}\n")},
	"inc/b.conf": {Data: []byte("vrrp_instance V {\n virtual_router_id 1\n}\n")},
	"abs.conf":   {Data: []byte("$X=1\n")},
	"loop.conf":  {Data: []byte("include loop.conf\n")},
}

// FuzzParse checks that parsing never panics and keeps its contract: errors and warnings
// sorted with real positions, a Config only without errors, holding only complete
// virtual servers, and a Config that dumps to JSON.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	opts := Options{ConfigID: "lb1", Env: func(string) string { return "env" }, fsys: fuzzFiles, maxLines: 1 << 12}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, warns, err := ParseWithOptions("f", src, opts)
		for _, d := range warns {
			if d.Pos.Line < 1 || d.Pos.Col < 1 || d.Msg == "" {
				t.Errorf("warning without position or text: %#v", d)
			}
		}
		sorted := func(ds []Diagnostic) bool {
			return slices.IsSortedFunc(ds, func(a, b Diagnostic) int { return comparePos(a.Pos, b.Pos) })
		}
		if !sorted(warns) {
			t.Errorf("warnings not sorted: %v", warns)
		}
		if err != nil {
			l, ok := err.(ErrorList)
			if !ok || len(l) == 0 || cfg != nil {
				t.Fatalf("Parse = %v, %T %v; want nil Config and a non-empty ErrorList", cfg, err, err)
			}
			if !sorted(l) {
				t.Errorf("errors not sorted: %v", l)
			}
			for _, d := range l {
				if d.Pos.Line < 1 || d.Pos.Col < 1 || d.Msg == "" {
					t.Errorf("error without position or text: %#v", d)
				}
			}
			return
		}
		for _, vs := range cfg.VirtualServers {
			if !vs.Addr.IsValid() || len(vs.Reals) == 0 || vs.Protocol == "" || vs.Scheduler == "" || vs.Kind == "" || vs.DelayLoop <= 0 {
				t.Errorf("incomplete virtual server %+v", vs)
			}
			for _, rs := range vs.Reals {
				if !rs.Addr.IsValid() || rs.Weight < 0 || rs.Weight > maxWeight {
					t.Errorf("%s: bad real server %+v", vs.Key(), rs)
				}
			}
		}
		for _, i := range cfg.Instances {
			if i.VRID < 1 || i.VRID > 255 || i.Priority < 1 || i.Priority > 255 {
				t.Errorf("instance %s out of range: %+v", i.Name, i)
			}
		}
		b, err := Dump(cfg)
		if err != nil || !json.Valid(b) {
			t.Errorf("Dump = %q, %v; want JSON", b, err)
		}
	})
}
