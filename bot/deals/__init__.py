"""Reading closed deals out of messages: the parser (text -> outcome -> account ->
amount -> rep) and the words it reads, one file per language (words/*.toml). Pure:
no storage, no Slack client."""
