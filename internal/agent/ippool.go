package agent

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// ipPool hands out pod IPs from the node's pod CIDR, one per pod, skipping the network address,
// the first host address and the broadcast address.
type ipPool struct {
	base uint32
	size uint32 // addresses in the CIDR
	cidr *net.IPNet

	mu   sync.Mutex // guards the fields below
	used map[uint32]types.UID
	byID map[types.UID]uint32
	next uint32
}

func newIPPool(cidr string) (*ipPool, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("agent: pod CIDR %q: %w", cidr, err)
	}
	ip4 := n.IP.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("agent: pod CIDR %q is not IPv4", cidr)
	}
	ones, bits := n.Mask.Size()
	if bits-ones < 2 || bits-ones > 24 {
		return nil, fmt.Errorf("agent: pod CIDR %q: want a prefix between /8 and /30", cidr)
	}
	return &ipPool{base: binary.BigEndian.Uint32(ip4), size: 1 << (bits - ones), cidr: n,
		used: map[uint32]types.UID{}, byID: map[types.UID]uint32{}, next: 2}, nil
}

// Allocate returns uid's IP: the one it has, else prefer if that is free and in range (a pod
// keeping its IP across an agent restart), else the next free one.
func (p *ipPool) Allocate(uid types.UID, prefer string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if off, ok := p.byID[uid]; ok {
		return p.ip(off), nil
	}
	if ip := net.ParseIP(prefer).To4(); ip != nil && p.cidr.Contains(ip) {
		off := binary.BigEndian.Uint32(ip) - p.base
		if _, taken := p.used[off]; !taken && off >= 2 && off < p.size-1 {
			p.take(off, uid)
			return p.ip(off), nil
		}
	}
	for i := uint32(0); i < p.size; i++ {
		off := p.next
		p.next++
		if p.next >= p.size-1 {
			p.next = 2
		}
		if off < 2 || off >= p.size-1 {
			continue
		}
		if _, taken := p.used[off]; !taken {
			p.take(off, uid)
			return p.ip(off), nil
		}
	}
	return "", fmt.Errorf("agent: no free IP left in pod CIDR %s", p.cidr)
}

func (p *ipPool) take(off uint32, uid types.UID) {
	p.used[off] = uid
	p.byID[uid] = off
}

// Release frees uid's IP.
func (p *ipPool) Release(uid types.UID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if off, ok := p.byID[uid]; ok {
		delete(p.byID, uid)
		delete(p.used, off)
	}
}

func (p *ipPool) ip(off uint32) string {
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, p.base+off)
	return b.String()
}

// Lookup returns the IP allocated to uid, if any.
func (p *ipPool) Lookup(uid types.UID) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	off, ok := p.byID[uid]
	if !ok {
		return "", false
	}
	return p.ip(off), true
}
