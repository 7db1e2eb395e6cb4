"""EMAIL_URL=file:///dir keeps each message as a file (what `make run` does with the demo's mail,
so the terminal keeps the URL and logins in view)."""

from django.core import mail

from config.settings import email_settings


def test_file_url_writes_each_message_to_a_file_in_the_directory(tmp_path, settings):
    settings.EMAIL_BACKEND, settings.EMAIL_FILE_PATH = email_settings(f"file://{tmp_path}").values()
    mail.send_mail("INC-0004 needs a status update", "Post the update.", "desk@example.com", ["lead@example.com"])
    [written] = tmp_path.iterdir()
    assert "Subject: INC-0004 needs a status update" in written.read_text()
