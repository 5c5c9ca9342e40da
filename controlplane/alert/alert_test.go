package alert

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"xlb/internal/testutil"
)

// alertLab is a namespace where the relay listens on 198.18.0.25.
func alertLab(t *testing.T) *testutil.NS {
	ns := testutil.NetNS(t)
	ns.MustRun(t, "ip", "addr", "add", "198.18.0.25/32", "dev", "lo")
	return ns
}

func TestSend(t *testing.T) {
	ns := alertLab(t)
	s := testutil.StartSMTPSink(t, ns, "198.18.0.25:25", &testutil.SMTPSink{})
	m := Mailer{Server: "198.18.0.25:25", HeloName: "lb1.example", From: "xlb@example.org",
		To: []string{"ops@example.org", "oncall@example.org"}, RouterID: "LB1", Timeout: 5 * time.Second}
	msg := m.VRRPInstance("VI_1", "MASTER", "VI_1 is master now\nsecond line")
	if err := ns.Do(func() error { return m.Send(context.Background(), msg) }); err != nil {
		t.Fatal(err)
	}
	got := s.Received()
	if len(got) != 1 {
		t.Fatalf("sink received %d mails, want 1", len(got))
	}
	if diff := cmp.Diff(testutil.Mail{Helo: "lb1.example", From: "FROM:<xlb@example.org>",
		To: []string{"TO:<ops@example.org>", "TO:<oncall@example.org>"}}, testutil.Mail{Helo: got[0].Helo, From: got[0].From, To: got[0].To}); diff != "" {
		t.Errorf("envelope (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"From: xlb@example.org\r\n",
		"Subject: [LB1] VRRP Instance VI_1 - Entering MASTER state\r\n",
		"To: ops@example.org, oncall@example.org\r\n",
		"\r\n\r\nVI_1 is master now\r\nsecond line\r\n",
	} {
		if !strings.Contains(got[0].Data, want) {
			t.Errorf("message lacks %q:\n%s", want, got[0].Data)
		}
	}
}

func TestSendErrors(t *testing.T) {
	ns := alertLab(t)
	testutil.StartSMTPSink(t, ns, "198.18.0.25:25", &testutil.SMTPSink{Refuse: "nobody@"})
	testutil.StartSMTPSink(t, ns, "198.18.0.25:2525", &testutil.SMTPSink{Silent: true})
	base := Mailer{Server: "198.18.0.25:25", From: "xlb@example.org", To: []string{"nobody@example.org"}, RouterID: "LB1"}
	tests := []struct {
		name string
		m    func(Mailer) Mailer
		want string
		is   error
	}{
		{name: "recipient refused", m: func(m Mailer) Mailer { return m }, want: "recipient nobody@example.org: 550"},
		{name: "nothing listening", m: func(m Mailer) Mailer { m.Server = "198.18.0.25:26"; return m }, want: "connection refused"},
		{name: "relay never answers", m: func(m Mailer) Mailer { m.Server, m.Timeout = "198.18.0.25:2525", 300*time.Millisecond; return m },
			want: "deadline exceeded", is: context.DeadlineExceeded},
		{name: "no recipient", m: func(m Mailer) Mailer { m.To = nil; return m }, is: ErrNotConfigured},
		{name: "no server", m: func(m Mailer) Mailer { m.Server = ""; return m }, is: ErrNotConfigured},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m(base)
			err := ns.Do(func() error {
				return m.Send(context.Background(), m.RealServer("198.18.0.11:80", "198.18.0.100:80", "DOWN", ""))
			})
			if err == nil {
				t.Fatal("Send succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestComposeKeepsHeadersOnOneLine(t *testing.T) {
	m := Mailer{From: "xlb@example.org", To: []string{"ops@example.org"}, RouterID: "LB1"}
	msg := m.VRRPInstance("VI_1\r\nBcc: evil@example.org", "MASTER", "")
	got := string(m.compose(msg, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)))
	want := "From: xlb@example.org\r\n" +
		"Subject: [LB1] VRRP Instance VI_1  Bcc: evil@example.org - Entering MASTER state\r\n" +
		"X-Mailer: xlb\r\n" +
		"Date: Fri, 27 Nov 2026 12:00:00 +0000\r\n" +
		"To: ops@example.org\r\n" +
		"\r\n\r\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compose (-want +got):\n%s", diff)
	}
}
