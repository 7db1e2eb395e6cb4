"""What several apps share: permissions, Markdown, formatting, the form base. Every app may import
it; it imports no app of ours."""
