package handlers

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// formValues returns what a browser would submit for the form with the
// given id as the page rendered it: inputs (checked boxes only), selected
// options and textareas. Buttons are left out.
func formValues(t testing.TB, page, formID string) url.Values {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse page: %v", err)
	}
	form := findByID(doc, formID)
	if form == nil {
		t.Fatalf("no form #%s in the page:\n%s", formID, page)
	}
	v := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name := htmlAttr(n, "name")
			switch n.Data {
			case "input":
				typ := htmlAttr(n, "type")
				switch {
				case name == "" || typ == "submit" || typ == "button":
				case typ == "checkbox" || typ == "radio":
					if hasAttr(n, "checked") {
						v.Add(name, attrOr(n, "value", "on"))
					}
				default:
					v.Add(name, htmlAttr(n, "value"))
				}
			case "textarea":
				if name != "" {
					v.Add(name, textOf(n))
				}
			case "select":
				if name != "" {
					v.Add(name, selectedOption(n))
				}
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return v
}

func findByID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode && htmlAttr(n, "id") == id {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := findByID(c, id); f != nil {
			return f
		}
	}
	return nil
}

func htmlAttr(n *html.Node, key string) string { return attrOr(n, key, "") }

func attrOr(n *html.Node, key, def string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return def
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// selectedOption returns the value of the selected option, or of the first
// one as browsers do.
func selectedOption(sel *html.Node) string {
	first, chosen := "", ""
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "option" {
			val := attrOr(n, "value", textOf(n))
			if first == "" {
				first = val
			}
			if hasAttr(n, "selected") && chosen == "" {
				chosen = val
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(sel)
	if chosen != "" {
		return chosen
	}
	return first
}
