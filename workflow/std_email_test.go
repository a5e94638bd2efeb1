package workflow

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeSMTP accepts one message and returns its address and what it got.
func fakeSMTP(t *testing.T) (string, func() (rcpts []string, data string)) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var rcpts []string
	var data strings.Builder
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		say := func(s string) { c.Write([]byte(s + "\r\n")) }
		say("220 fake ESMTP")
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			cmd := strings.ToUpper(strings.TrimSpace(line))
			switch {
			case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"), strings.HasPrefix(cmd, "MAIL"):
				say("250 ok")
			case strings.HasPrefix(cmd, "RCPT"):
				mu.Lock()
				rcpts = append(rcpts, strings.TrimSpace(line[len("RCPT TO:"):]))
				mu.Unlock()
				say("250 ok")
			case cmd == "DATA":
				say("354 go on")
				for {
					l, err := r.ReadString('\n')
					if err != nil || l == ".\r\n" {
						break
					}
					mu.Lock()
					data.WriteString(l)
					mu.Unlock()
				}
				say("250 queued")
			case cmd == "QUIT":
				say("221 bye")
				return
			default:
				say("502 no")
			}
		}
	}()
	return ln.Addr().String(), func() ([]string, string) {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return rcpts, data.String()
	}
}

func TestStdEmail(t *testing.T) {
	addr, got := fakeSMTP(t)
	ex := runYAML(t, `version: '2.0'
wf:
  input: [smtp]
  tasks:
    mail:
      action: std.email
      input:
        from_addr: ops@example.org
        to_addrs: [a@example.org]
        cc_addrs: [b@example.org]
        smtp_server: <% $.smtp %>
        subject: keys rotated
        body: all nodes agree
`, map[string]any{"smtp": addr})
	if ex.State != Success {
		t.Fatalf("state %s: %s", ex.State, ex.StateInfo)
	}
	rcpts, data := got()
	if strings.Join(rcpts, " ") != "<b@example.org> <a@example.org>" {
		t.Errorf("recipients %v: Mistral sends to cc, bcc, then to", rcpts)
	}
	for _, want := range []string{"Subject: keys rotated", "From: ops@example.org", "To: a@example.org", "Cc: b@example.org", "all nodes agree"} {
		if !strings.Contains(data, want) {
			t.Errorf("message lacks %q:\n%s", want, data)
		}
	}

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	ex = runYAML(t, `version: '2.0'
wf:
  input: [smtp]
  tasks:
    mail:
      action: std.email
      input: {from_addr: a@b, to_addrs: [c@d], smtp_server: <% $.smtp %>}
`, map[string]any{"smtp": closed})
	if ex.State != Failed || !strings.Contains(ex.Tasks[0].StateInfo, "msg='Failed to send an email message: ") {
		t.Fatalf("state %s: %s", ex.State, ex.Tasks[0].StateInfo)
	}
}
