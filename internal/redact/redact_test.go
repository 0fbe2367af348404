package redact

import "testing"

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in   string
		mode QueryMode
		want string
	}{
		{"https://example.com/", KeepQuery, "https://example.com/"},
		{"https://user:secret@example.com/x", KeepQuery, "https://example.com/x"},
		{"https://user@example.com/", KeepQuery, "https://example.com/"}, // not even the user name
		{"https://user:@example.com/", KeepQuery, "https://example.com/"},
		{"https://u:p@ss@example.com/", KeepQuery, "https://example.com/"}, // the last @ ends the user info, as url.Parse says
		{"https://example.com/path?next=a:b@c", KeepQuery, "https://example.com/path?next=a:b@c"},
		{"https://example.com/#a:b@c", KeepQuery, "https://example.com/#a:b@c"},
		{"HTTP://U:P@EXAMPLE.COM", KeepQuery, "HTTP://EXAMPLE.COM"},
		{"http://user:secret@[::1", KeepQuery, "http://[::1"}, // unparsable, still redacted
		{"no scheme user:secret@host", KeepQuery, "no scheme user:secret@host"},
		{"", KeepQuery, ""},
		{"https://u:p@example.com/x?key=s3cret&b=&c#frag", MaskQuery, "https://example.com/x?key=…&b=&c#frag"},
		{"https://example.com/x?key=s3cret&key=two", MaskQuery, "https://example.com/x?key=…&key=…"},
		{"https://example.com/x?token", MaskQuery, "https://example.com/x?token"},
		{"https://example.com/x?", MaskQuery, "https://example.com/x?"},
		{"https://example.com/x?key=s3cret", KeepQuery, "https://example.com/x?key=s3cret"},
	}
	for _, tt := range tests {
		if got := URL(tt.in, tt.mode); got != tt.want {
			t.Errorf("URL(%q, %v) = %q, want %q", tt.in, tt.mode, got, tt.want)
		}
	}
}

func TestRedactText(t *testing.T) {
	tests := []struct {
		in   string
		mode QueryMode
		want string
	}{
		{"", KeepQuery, ""},
		{"connection refused", KeepQuery, "connection refused"},
		{`Get "https://ops:S3cret@intranet/health": EOF`, KeepQuery, `Get "https://intranet/health": EOF`},
		{"redirect back to http://a:b@h/x?k=v and https://c@h2/", MaskQuery, "redirect back to http://h/x?k=… and https://h2/"},
		{"back to http://h/x?k=v", KeepQuery, "back to http://h/x?k=v"},
	}
	for _, tt := range tests {
		if got := Text(tt.in, tt.mode); got != tt.want {
			t.Errorf("Text(%q, %v) = %q, want %q", tt.in, tt.mode, got, tt.want)
		}
	}
}
