package cli

import "testing"

func TestDefaultDataDir(t *testing.T) {
	tests := []struct {
		name    string
		euid    int
		env     map[string]string
		want    string
		wantErr bool
	}{
		{name: "root uses /var/lib/skiff", euid: 0, env: map[string]string{"HOME": "/root", "XDG_DATA_HOME": "/x"}, want: "/var/lib/skiff"},
		{name: "user with XDG_DATA_HOME", euid: 1000, env: map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "/data/u"}, want: "/data/u/skiff"},
		{name: "relative XDG_DATA_HOME is ignored", euid: 1000, env: map[string]string{"HOME": "/home/u", "XDG_DATA_HOME": "data"}, want: "/home/u/.local/share/skiff"},
		{name: "user without XDG_DATA_HOME", euid: 1000, env: map[string]string{"HOME": "/home/u"}, want: "/home/u/.local/share/skiff"},
		{name: "user without HOME", euid: 1000, env: map[string]string{}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := defaultDataDir(tt.euid, func(k string) string { return tt.env[k] })
			if tt.wantErr {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("defaultDataDir = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
