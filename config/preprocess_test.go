package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// expandText runs the reader over src as file "k.conf" in dir and renders what the tree
// stage would see: one line per statement line, words joined by blanks, each with its
// position, and the diagnostics.
func expandText(t *testing.T, dir, src string, opts Options) (lines, errs, warns []string) {
	t.Helper()
	d := &decoder{}
	r := newReader(d, opts)
	r.file(filepath.Join(dir, "k.conf"), []byte(src), nil)
	var cur []string
	var at string
	for _, tok := range r.out {
		if tok.Kind == tokNewline {
			lines = append(lines, at+" "+strings.Join(cur, " "))
			cur = nil
			continue
		}
		if cur == nil {
			at = strings.TrimPrefix(tok.Pos.String(), dir+"/") + strings.ReplaceAll(tok.Pos.Includes(), dir+"/", "")
		}
		cur = append(cur, tok.Text)
	}
	rel := func(ds []Diagnostic) []string {
		var out []string
		for _, d := range ds {
			out = append(out, strings.ReplaceAll(d.String(), dir+"/", ""))
		}
		return out
	}
	return lines, rel(d.errs), rel(d.warns)
}

func TestPreprocess(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"conf.d/a.conf":   "virtual_server 198.18.0.1 80 {\n}\ninclude ../vars/*.conf\n",
		"conf.d/b.conf":   "bad_word 1\n",
		"vars/v.conf":     "$V=from_v\n",
		"loop.conf":       "include loop.conf\n",
		"conf.d/c.notcnf": "not read\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		src       string
		opts      Options
		want      []string
		wantErrs  []string
		wantWarns []string
	}{
		{
			name: "comments, blanks and one-line blocks keep their columns",
			src:  "  a b # c\n\n! x\n\tv { 1 2 }\n",
			want: []string{"k.conf:1:3 a b", "k.conf:4:2 v { 1 2 }"},
		},
		{
			name: "conditional lines follow the config id",
			src:  "@lb1 a 1\n@lb2 b 2\n@^lb1 c 3\n@^lb2   d 4\n@lb1\n",
			opts: Options{ConfigID: "lb1"},
			want: []string{"k.conf:1:6 a 1", "k.conf:4:9 d 4"},
		},
		{
			name: "macros, braces and built-ins",
			src: "$IF=eth0\n$VIP=198.18.0.1/32 dev $IF\nvirtual_ipaddress { $VIP }\n" +
				"x ${IF}x $IFx $NOPE \"$IF\" \"${IF}\"\nid $_INSTANCE ${_ENV XLB_T}\n$C=a $_HASH b\nc $C\n",
			opts: Options{ConfigID: "n1", Env: func(k string) string { return "env-" + k }},
			want: []string{
				"k.conf:3:1 virtual_ipaddress { 198.18.0.1/32 dev eth0 }",
				"k.conf:4:1 x eth0x $IFx $NOPE $IF eth0", "k.conf:5:1 id n1 env-XLB_T", "k.conf:7:1 c a",
			},
		},
		{
			name: "multi-line macro",
			src:  "$BLOCK=a 1 \\\n  b 2 \\\n  c 3\n\nx {\n $BLOCK\n}\n$EMPTY=\\\n\ny $BLOCK z\n",
			want: []string{"k.conf:5:1 x {", "k.conf:6:2 a 1", "k.conf:6:2 b 2", "k.conf:6:2 c 3", "k.conf:7:1 }", "k.conf:10:1 y $BLOCK z"},
		},
		{
			name: "sequences",
			src:  "~SEQ(i, 3) r $i\n~SEQ(i,10,-5,0) s $i\n~SEQx(n, 9, 11) 2001:db8::$n\n~SEQ(a,1,2) ~SEQ(b,1,2) p ${a}$b $a$b\n$N=2\n~SEQ(i, $N, 2) q $i\n",
			want: []string{
				"k.conf:1:12 r 1", "k.conf:1:12 r 2", "k.conf:1:12 r 3",
				"k.conf:2:17 s 10", "k.conf:2:17 s 5", "k.conf:2:17 s 0",
				"k.conf:3:17 2001:db8::9", "k.conf:3:17 2001:db8::a", "k.conf:3:17 2001:db8::b",
				"k.conf:4:25 p 11 $a1", "k.conf:4:25 p 12 $a2", "k.conf:4:25 p 21 $a1", "k.conf:4:25 p 22 $a2",
				"k.conf:6:16 q 2",
			},
		},
		{
			name: "lists",
			src:  "~LST(IP, 1, 2) ~LST(IP1, 5,6) 192.0.${IP}.${IP1}\n~LST({A, B}, {10,1},{20}) a=$A b=${B}x\n~LST({IP, IP1}, {10,1}) ~SEQ(IP2,168,2,170) ${IP2}.${IP}.${IP1}\n",
			want: []string{
				"k.conf:1:31 192.0.1.5", "k.conf:1:31 192.0.1.6", "k.conf:1:31 192.0.2.5", "k.conf:1:31 192.0.2.6",
				"k.conf:2:27 a=10 b=1x", "k.conf:2:27 a=20 b=x",
				"k.conf:3:45 168.10.1", "k.conf:3:45 170.10.1",
			},
		},
		{
			name: "bad sequences",
			src:  "~SEQ(i,1,-1,5) x\n~SEQ i x\n~SEQ(i,a) x\n~SEQx(i,-1,2) x\n~LST(i) x\n~LST({a,b},{1,2,3}) x\n~LST({a,b},{1,2) x\n~LST(1a, 2) x\n",
			wantErrs: []string{
				"k.conf:1:1: ~SEQ: the step does not lead from start to end; want ~SEQ(VAR, [START,] [STEP,] END) LINE",
				"k.conf:2:1: ~SEQ: no '('; want ~SEQ(VAR, [START,] [STEP,] END) LINE",
				`k.conf:3:1: ~SEQ: "a" is not a number; want ~SEQ(VAR, [START,] [STEP,] END) LINE`,
				"k.conf:4:1: ~SEQ: ~SEQx takes only positive numbers; want ~SEQ(VAR, [START,] [STEP,] END) LINE",
				"k.conf:5:1: ~LST: unbalanced braces or no value; want ~LST(VAR, VALUE, ...) LINE or ~LST({VAR, ...}, {VALUE, ...}, ...) LINE",
				"k.conf:6:1: ~LST: {1, 2, 3} has more values than variables; want ~LST(VAR, VALUE, ...) LINE or ~LST({VAR, ...}, {VALUE, ...}, ...) LINE",
				"k.conf:7:1: ~LST: unbalanced braces or no value; want ~LST(VAR, VALUE, ...) LINE or ~LST({VAR, ...}, {VALUE, ...}, ...) LINE",
				`k.conf:8:1: ~LST: "1a" is not a variable name; want ~LST(VAR, VALUE, ...) LINE or ~LST({VAR, ...}, {VALUE, ...}, ...) LINE`,
			},
		},
		{
			name: "includes are relative to the including file, errors name the chain",
			src:  "top 1\ninclude conf.d/*.conf\nafter $V\ninclude none/*.conf\ninclude missing.conf\ninclude loop.conf\n",
			want: []string{
				"k.conf:1:1 top 1",
				"conf.d/a.conf:1:1 (included from k.conf:2:1) virtual_server 198.18.0.1 80 {",
				"conf.d/a.conf:2:1 (included from k.conf:2:1) }",
				"conf.d/b.conf:1:1 (included from k.conf:2:1) bad_word 1",
				"k.conf:3:1 after from_v",
			},
			wantErrs: []string{
				"k.conf:5:1: include missing.conf: no such file",
				"loop.conf:1:1: include loop.conf: include cycle: loop.conf -> loop.conf (included from k.conf:6:1)",
			},
			wantWarns: []string{"k.conf:4:1: include none/*.conf: no file matches; nothing included"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lines, errs, warns := expandText(t, dir, tc.src, tc.opts)
			if diff := cmp.Diff(tc.want, lines); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantErrs, errs); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantWarns, warns); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIncludeErrorsInOrder checks that a whole Load reports errors of included files in
// reading order with the include chain.
func TestIncludeErrorsInOrder(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.conf", "lb_algo rr\ninclude inner.conf\nvrrp_scrpt x {\n}\n")
	write("inner.conf", "include deep.conf\n")
	write("deep.conf", "global_defs {\n routr_id a\n}\n")
	_, _, err := Load(filepath.Join(dir, "main.conf"))
	l, ok := err.(ErrorList)
	if !ok {
		t.Fatalf("Load error %T %v, want ErrorList", err, err)
	}
	var got []string
	for _, d := range l {
		got = append(got, strings.ReplaceAll(d.String(), dir+"/", ""))
	}
	want := []string{
		`main.conf:1:1: unknown keyword "lb_algo" in top level`,
		`deep.conf:2:2: unknown keyword "routr_id" in global_defs; did you mean router_id? (included from inner.conf:1:1, from main.conf:2:1)`,
		`main.conf:3:1: unknown keyword "vrrp_scrpt" in top level; did you mean vrrp_script?`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}
