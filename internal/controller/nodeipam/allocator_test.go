package nodeipam

import (
	"errors"
	"net"
	"testing"
)

func TestAllocator(t *testing.T) {
	_, cluster, _ := net.ParseCIDR("127.64.0.0/14")
	a, err := newAllocator(cluster, 16) // four blocks
	if err != nil {
		t.Fatal(err)
	}
	a.occupy("127.65.0.0/16", "old")
	a.occupy("10.0.0.0/16", "elsewhere") // not ours: ignored
	var got []string
	for _, n := range []string{"a", "b", "c"} {
		c, err := a.allocate(n)
		if err != nil {
			t.Fatalf("allocate %s: %v", n, err)
		}
		got = append(got, c)
	}
	want := []string{"127.64.0.0/16", "127.66.0.0/16", "127.67.0.0/16"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("allocated %v, want %v", got, want)
		}
	}
	if _, err := a.allocate("d"); !errors.Is(err, ErrFull) {
		t.Errorf("fifth block: err %v, want ErrFull", err)
	}
	a.release("b")
	if c, _ := a.allocate("e"); c != "127.66.0.0/16" {
		t.Errorf("after release got %s, want 127.66.0.0/16", c)
	}
	if _, err := newAllocator(cluster, 12); err == nil {
		t.Error("a node mask wider than the cluster CIDR was accepted")
	}
}
