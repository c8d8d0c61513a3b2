package expectations

import (
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestCache(t *testing.T) {
	const key = "default/web"
	tests := []struct {
		name  string
		steps func(c *Cache, clk *clocktesting.FakeClock)
		want  bool
	}{
		{
			name:  "a key never seen is satisfied",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {},
			want:  true,
		},
		{
			name: "creations not yet observed block the sync",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectCreations(key, 2)
				c.CreationObserved(key)
			},
			want: false,
		},
		{
			name: "all creations observed satisfy",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectCreations(key, 2)
				c.CreationObserved(key)
				c.CreationObserved(key)
			},
			want: true,
		},
		{
			name: "a deletion observed twice counts once",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectDeletions(key, []string{"default/a", "default/b"})
				c.DeletionObserved(key, "default/a")
				c.DeletionObserved(key, "default/a")
			},
			want: false,
		},
		{
			name: "a deletion of a pod not expected is ignored",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectDeletions(key, []string{"default/a"})
				c.DeletionObserved(key, "default/zzz")
			},
			want: false,
		},
		{
			name: "all expected deletions observed satisfy",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectDeletions(key, []string{"default/a", "default/b"})
				c.DeletionObserved(key, "default/b")
				c.DeletionObserved(key, "default/a")
			},
			want: true,
		},
		{
			name: "expectations older than the TTL are not trusted",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectCreations(key, 5)
				clk.Step(TTL + time.Second)
			},
			want: true,
		},
		{
			name: "deleting the key forgets its expectations",
			steps: func(c *Cache, clk *clocktesting.FakeClock) {
				c.ExpectCreations(key, 5)
				c.Delete(key)
			},
			want: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
			c := New(clk)
			tt.steps(c, clk)
			if got := c.Satisfied(key); got != tt.want {
				t.Errorf("Satisfied() = %v, want %v", got, tt.want)
			}
		})
	}
}
