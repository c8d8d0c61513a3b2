package agent

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestIPPool(t *testing.T) {
	p, err := newIPPool("127.64.0.0/29") // 8 addresses: .2 to .6 are usable
	if err != nil {
		t.Fatal(err)
	}
	ip, _ := p.Allocate("a", "")
	if ip != "127.64.0.2" {
		t.Errorf("first IP %s, want 127.64.0.2", ip)
	}
	if again, _ := p.Allocate("a", ""); again != ip {
		t.Errorf("same pod got %s then %s", ip, again)
	}
	if kept, _ := p.Allocate("b", "127.64.0.5"); kept != "127.64.0.5" {
		t.Errorf("preferred free IP not kept: %s", kept)
	}
	if other, _ := p.Allocate("c", "127.64.0.5"); other == "127.64.0.5" {
		t.Error("an IP in use was handed out twice")
	}
	if out, _ := p.Allocate("d", "127.99.0.1"); out == "127.99.0.1" {
		t.Error("an IP outside the CIDR was accepted")
	}
	p.Allocate("e", "")
	if _, err := p.Allocate(types.UID("f"), ""); err == nil {
		t.Error("allocated past the end of the CIDR")
	}
	p.Release("a")
	if ip, err := p.Allocate("g", ""); err != nil || ip != "127.64.0.2" {
		t.Errorf("after release: %s %v, want 127.64.0.2", ip, err)
	}
}
