package main

import (
	"strings"
	"testing"
	"time"

	"github.com/fernetflow/fernetflow/workflow/definitions"
)

func TestAdhocActionYAML(t *testing.T) {
	reg, err := mistralActions()
	if err != nil {
		t.Fatal(err)
	}
	if names := strings.Join(reg.Names(), " "); strings.Contains(names, "std.") || !strings.Contains(names, "keys.rotate") || !strings.Contains(names, "fleet.deploy") {
		t.Fatalf("registered actions: %s", names)
	}
	a, _ := reg.Lookup("keys.rotate")
	b, err := adhocActionYAML(a, adhocOptions{Server: "https://uc.example:8990", Token: "<% $.openstack.auth_token %>", Verify: "/etc/pki/ca.pem", Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nkeys.rotate:\n", "  tags: [fernetflow]\n", "  base: std.http\n",
		`    url: "https://uc.example:8990/v1/actions/keys.rotate"`,
		`      X-Auth-Token: "<% $.openstack.auth_token %>"`,
		"    timeout: 60\n", `    verify: "/etc/pki/ca.pem"`,
		"    - max_active_keys: 3\n", "    - key_repository: null\n",
		".where($[1] != null)", `  output: "<% $.content.result %>"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("ad-hoc keys.rotate lacks %q:\n%s", want, b)
		}
	}
	c, _ := reg.Lookup("fleet.check")
	b, _ = adhocActionYAML(c, adhocOptions{Server: "http://127.0.0.1:8990", Token: "x", Timeout: time.Minute})
	if !strings.Contains(string(b), "  input:\n    - servers\n    - confirm: true\n") {
		t.Errorf("fleet.check: required input first, then defaults:\n%s", b)
	}
}

func TestTaggedWorkflows(t *testing.T) {
	src, err := definitions.Source("rotate_fernet_keys.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, names := taggedWorkflows(src)
	if len(names) != 1 || names[0] != "rotate_fernet_keys" {
		t.Fatalf("names = %v", names)
	}
	if !strings.Contains(string(out), "\nrotate_fernet_keys:\n  tags: [fernetflow]\n  description:") {
		t.Errorf("no tag after the workflow's key:\n%s", out[:400])
	}
	if strings.Replace(string(out), "\n  tags: [fernetflow]", "", 1) != string(src) {
		t.Error("taggedWorkflows changed more than the tag")
	}
}

func TestMistralRegisterUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2"}, "--action-server"},
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2", "--action-server", "ftp://x"}, "--action-server"},
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2", "--action-server", "http://127.0.0.1:8990", "--auth", "shared-secret-for-tests"}, "--shared-secret-file"},
		{[]string{"mistral", "register", "--mistral-url", "http://127.0.0.1:1/v2", "--action-server", "http://127.0.0.1:8990", "--cron-name", "mine"}, "--cron-name"},
	} {
		_, errs, code := runCLI(t, "", c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d %q, want 2 naming %s", c.args, code, errs, c.want)
		}
	}
}
