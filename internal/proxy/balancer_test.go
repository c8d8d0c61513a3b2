package proxy

import (
	"net/netip"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func eps(ss ...string) []netip.AddrPort {
	out := make([]netip.AddrPort, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddrPort(s)
	}
	return out
}

var (
	clientA = netip.MustParseAddr("127.0.0.2")
	clientB = netip.MustParseAddr("127.0.0.3")
)

func picks(t *testing.T, b *balancer, client netip.Addr, n int) []string {
	t.Helper()
	var out []string
	for range n {
		ep, ok := b.pick(client, nil)
		if !ok {
			t.Fatal("no endpoint picked")
		}
		out = append(out, ep.String())
	}
	return out
}

func TestBalancerRoundRobin(t *testing.T) {
	b := newBalancer("test", clocktesting.NewFakeClock(time.Now()))
	if _, ok := b.pick(clientA, nil); ok {
		t.Fatal("picked from an empty balancer")
	}
	if !b.update(eps("127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80"), 0) {
		t.Fatal("update of a new list reported no change")
	}
	got := picks(t, b, clientA, 6)
	want := []string{"127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80", "127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80"}
	if len(got) != len(want) {
		t.Fatalf("picks %v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("picks %v; want %v", got, want)
		}
	}
	if b.update(eps("127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80"), 0) {
		t.Error("update with the same list reported a change")
	}
}

func TestBalancerSkipsTriedEndpoints(t *testing.T) {
	b := newBalancer("test", clocktesting.NewFakeClock(time.Now()))
	b.update(eps("127.0.1.1:80", "127.0.1.2:80"), 0)
	tried := eps("127.0.1.1:80")
	for range 4 {
		ep, ok := b.pick(clientA, tried)
		if !ok || ep.String() != "127.0.1.2:80" {
			t.Fatalf("pick skipping 127.0.1.1 = %v, %v", ep, ok)
		}
	}
	if _, ok := b.pick(clientA, eps("127.0.1.1:80", "127.0.1.2:80")); ok {
		t.Error("picked although every endpoint was tried")
	}
}

func TestBalancerClientIPAffinity(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	b := newBalancer("test", clk)
	b.update(eps("127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80"), time.Minute)

	first := picks(t, b, clientA, 1)[0]
	for _, ep := range picks(t, b, clientA, 5) {
		if ep != first {
			t.Fatalf("client A moved from %s to %s", first, ep)
		}
	}
	if other := picks(t, b, clientB, 1)[0]; other == first {
		t.Errorf("client B got A's endpoint %s: affinity should not be global", other)
	}

	// Traffic keeps the affinity alive; a minute of silence ends it.
	clk.Step(50 * time.Second)
	if ep := picks(t, b, clientA, 1)[0]; ep != first {
		t.Errorf("after 50 s: %s; want still %s", ep, first)
	}
	clk.Step(61 * time.Second)
	if ep := picks(t, b, clientA, 1)[0]; ep == first {
		t.Errorf("after 61 idle seconds client A still sticks to %s", ep)
	}

	// An endpoint that leaves takes its clients' affinity with it.
	cur := picks(t, b, clientA, 1)[0]
	var rest []netip.AddrPort
	for _, ep := range eps("127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80") {
		if ep.String() != cur {
			rest = append(rest, ep)
		}
	}
	b.update(rest, time.Minute)
	if ep := picks(t, b, clientA, 1)[0]; ep == cur {
		t.Errorf("client A still sent to removed endpoint %s", ep)
	}

	// A refused sticky endpoint is replaced, and the replacement sticks.
	sticky := picks(t, b, clientA, 1)[0]
	next, _ := b.pick(clientA, eps(sticky))
	if next.String() == sticky {
		t.Fatalf("retry picked the refused endpoint again")
	}
	if ep := picks(t, b, clientA, 1)[0]; ep != next.String() {
		t.Errorf("after a retry client A sticks to %s; want %s", ep, next)
	}
}

func BenchmarkBalancerPick(b *testing.B) {
	bal := newBalancer("bench", clocktesting.NewFakeClock(time.Now()))
	bal.update(eps("127.0.1.1:80", "127.0.1.2:80", "127.0.1.3:80"), 0)
	for b.Loop() {
		bal.pick(clientA, nil)
	}
}
