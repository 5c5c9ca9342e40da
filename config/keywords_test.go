package config

import (
	"testing"
)

// TestSchemasKnownToKeepalived checks that every keyword xlb decodes is one keepalived
// accepts in the same block: the decoder tables cannot drift from the registry.
func TestSchemasKnownToKeepalived(t *testing.T) {
	check := func(b *block, fields []string) {
		for _, f := range fields {
			if !b.knows(f) {
				t.Errorf("modelled keyword %q is not in the %s registry", f, b.name)
			}
		}
	}
	for b, words := range modelledWords() {
		check(b, words)
	}
	// Every row of notActedOn names a modelled keyword.
	byName := make(map[string]bool)
	for b, words := range modelledWords() {
		for _, w := range words {
			byName[b.name+"/"+w] = true
		}
	}
	for k := range notActedOn {
		if !byName[k] {
			t.Errorf("notActedOn row %q is not a modelled keyword", k)
		}
	}
}

// modelledWords lists, per registry block, the keywords a schema decodes.
func modelledWords() map[*block][]string {
	m := map[*block][]string{
		topLevelSchema.words:      keys(topLevelSchema.fields),
		globalDefsSchema.words:    keys(globalDefsSchema.fields),
		scriptSchema.words:        keys(scriptSchema.fields),
		trackFileSchema.words:     keys(trackFileSchema.fields),
		syncGroupSchema.words:     keys(syncGroupSchema.fields),
		instanceSchema.words:      keys(instanceSchema.fields),
		authSchema.words:          keys(authSchema.fields),
		virtualServerSchema.words: keys(virtualServerSchema.fields),
		realServerSchema.words:    keys(realServerSchema.fields),
		httpURLSchema.words:       keys(httpURLSchema.fields),
		sslURLSchema.words:        keys(sslURLSchema.fields),
		trackFileTopSchema.words:  keys(trackFileTopSchema.fields),
		trackProcessSchema.words:  keys(trackProcessSchema.fields),
		bfdSchema.words:           keys(bfdSchema.fields),
		garpGroupSchema.words:     keys(garpGroupSchema.fields),
		sslSchema.words:           keys(sslSchema.fields),
		trackGroupSchema.words:    keys(trackGroupSchema.fields),
		authHMACSchema.words:      keys(authHMACSchema.fields),
	}
	for _, s := range checkerSchemas {
		m[s.words] = keys(s.fields)
	}
	m[smtpHostSchema.words] = keys(smtpHostSchema.fields)
	return m
}

func keys[T any](m map[string]field[T]) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestRegistryBlocks spot-checks the registry's shape against keepalived's nesting.
func TestRegistryBlocks(t *testing.T) {
	tests := []struct {
		path []string // blocks from the top level
		word string
		want bool
	}{
		{[]string{}, "vrrp_script", true},
		{[]string{}, "vrrip_script", false},
		{[]string{"global_defs"}, "router_id", true},
		{[]string{"vrrp_instance"}, "virtual_ipaddress", true},
		{[]string{"vrrp_instance", "authentication"}, "auth_pass", true},
		{[]string{"virtual_server"}, "lb_algo", true},
		{[]string{"virtual_server", "real_server"}, "weight", true},
		{[]string{"virtual_server", "real_server"}, "lb_algo", false},
		{[]string{"virtual_server", "real_server", "HTTP_GET", "url"}, "status_code", true},
		{[]string{"virtual_server", "real_server", "HTTP_GET"}, "tls_compliant", false},
		{[]string{"virtual_server", "real_server", "SSL_GET"}, "tls_compliant", true},
		{[]string{"virtual_server", "real_server", "MISC_CHECK"}, "misc_path", true},
		{[]string{"virtual_server", "real_server", "MISC_CHECK"}, "connect_port", false},
		{[]string{"virtual_server", "real_server", "SMTP_CHECK", "host"}, "connect_ip", true},
		{[]string{"bfd_instance"}, "neighbor_ip", true},
	}
	for _, tc := range tests {
		b := topLevelWords
		for _, p := range tc.path {
			next := b.words[p]
			if next == nil {
				t.Fatalf("%v: %q opens no keyword block in %s", tc.path, p, b.name)
			}
			b = next
		}
		if got := b.knows(tc.word); got != tc.want {
			t.Errorf("%v knows %q = %v, want %v", tc.path, tc.word, got, tc.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		word string
		want string // "" for no suggestion
	}{
		{"vrrip_script", "vrrp_script"},
		{"virtual_sever", "virtual_server"},
		{"VRRP_INSTANCE", "vrrp_instance"},
		{"globaldefs", "global_defs"},
		{"xyz", ""},
		{"frobnicate", ""},
	}
	for _, tc := range tests {
		got, ok := suggest(topLevelWords, tc.word)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"lb_algo", "lb_algo", 0},
		{"lb_alog", "lb_algo", 2},
		{"kitten", "sitting", 3},
	}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}
