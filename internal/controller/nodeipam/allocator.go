package nodeipam

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// ErrFull is returned when every block of the cluster CIDR is taken.
var ErrFull = errors.New("nodeipam: no pod CIDR left in the cluster CIDR")

// allocator hands out the blocks of a cluster CIDR.
type allocator struct {
	base   uint32
	shift  uint   // 32 - node mask size
	blocks uint32 // how many blocks the cluster CIDR has
	mask   int
	used   map[uint32]string // block index -> node
	next   uint32
}

func newAllocator(cluster *net.IPNet, nodeMask int) (*allocator, error) {
	ip := cluster.IP.To4()
	if ip == nil {
		return nil, fmt.Errorf("nodeipam: cluster CIDR %s is not IPv4", cluster)
	}
	ones, _ := cluster.Mask.Size()
	if nodeMask < ones || nodeMask > 30 {
		return nil, fmt.Errorf("nodeipam: node CIDR mask size %d must be between the cluster CIDR's (%d) and 30", nodeMask, ones)
	}
	if nodeMask-ones > 20 {
		return nil, fmt.Errorf("nodeipam: cluster CIDR %s has too many /%d blocks", cluster, nodeMask)
	}
	return &allocator{base: binary.BigEndian.Uint32(ip.Mask(cluster.Mask)), shift: uint(32 - nodeMask),
		blocks: 1 << (nodeMask - ones), mask: nodeMask, used: map[uint32]string{}}, nil
}

// cidr is block i as a string.
func (a *allocator) cidr(i uint32) string {
	b := make(net.IP, 4)
	binary.BigEndian.PutUint32(b, a.base+i<<a.shift)
	return fmt.Sprintf("%s/%d", b, a.mask)
}

// index returns the block cidr names, if it is one of this allocator's.
func (a *allocator) index(cidr string) (uint32, bool) {
	ip, n, err := net.ParseCIDR(cidr)
	if err != nil || ip.To4() == nil {
		return 0, false
	}
	if ones, _ := n.Mask.Size(); ones != a.mask {
		return 0, false
	}
	off := binary.BigEndian.Uint32(n.IP.To4()) - a.base
	i := off >> a.shift
	if off&((1<<a.shift)-1) != 0 || i >= a.blocks || binary.BigEndian.Uint32(n.IP.To4()) < a.base {
		return 0, false
	}
	return i, true
}

// occupy marks cidr as node's (a node that already has one).
func (a *allocator) occupy(cidr, node string) {
	if i, ok := a.index(cidr); ok {
		a.used[i] = node
	}
}

// allocate returns a free block for node.
func (a *allocator) allocate(node string) (string, error) {
	for i := uint32(0); i < a.blocks; i++ {
		idx := (a.next + i) % a.blocks
		if _, taken := a.used[idx]; !taken {
			a.used[idx] = node
			a.next = idx + 1
			return a.cidr(idx), nil
		}
	}
	return "", ErrFull
}

// release frees node's block(s).
func (a *allocator) release(node string) {
	for i, n := range a.used {
		if n == node {
			delete(a.used, i)
		}
	}
}
