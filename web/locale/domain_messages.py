"""Messages raised by domain code (db/) that the web layer translates at display time with
`_(message)`. Domain code stays free of gettext, so its English strings are listed here with
the no-op `N_` marker purely so that `pybabel extract` (scripts/i18n.sh) puts them into the
catalogues. Nothing imports this module at run time.

Messages built with f-strings are listed with every concrete value they can take today; when
a limit or a list of codes changes in db/, update this file and run scripts/i18n.sh
(tests/test_i18n.py checks that the messages the domain actually produces are translated).
"""

from __future__ import annotations


def N_(message: str) -> str:
    return message


DOMAIN_MESSAGES = [
    # db/customers/service.py: customer fields (_text with its max lengths) and interactions
    N_("must be text"),
    N_("required"),
    N_("at most 10 characters"),
    N_("at most 20 characters"),
    N_("at most 30 characters"),
    N_("at most 40 characters"),
    N_("at most 100 characters"),
    N_("at most 254 characters"),
    N_("at most 2000 characters"),
    N_("a mobile number or an e-mail address is required"),
    N_("one of female, male, unknown"),
    N_("not a plausible birthday"),
    N_("a date like 1990-05-17"),
    N_("a list of tag names"),
    N_("at most 20 tags of up to 40 characters"),
    N_("a customer with this already exists"),
    N_("belongs to another customer"),
    N_("one of call, visit, message, note"),
    # db/customers/service.py: the card's quick actions (log, tags, profile edit)
    N_("one of reached, no_answer, interested, not_interested, resolved"),
    N_("today or later"),
    N_("within the next two years"),
    N_("one of 1, 3, 7"),
    N_("a date like 2024-03-05"),  # db/customers/fields.parse_date, for the follow-up date
    N_("a rule tag follows its rule; it cannot be added by hand"),
    N_("a rule tag follows its rule; it cannot be removed by hand"),
    N_("only managers and admins can reassign customers"),
    N_("not one of the choices"),
    N_("at most 200 characters"),
    # db/customers/identity.py: InvalidIdentity
    N_("not a phone number"),
    N_("not a valid mobile number"),
    N_("not a mobile number"),
    N_("not a valid e-mail address"),
    # db/orders/ingest.py: money, times and orders
    N_('send money as a string like "199.00"'),
    N_("not an amount"),
    N_("must be zero or more"),
    N_("at most two decimal places"),
    N_("too large"),
    N_("an ISO-8601 time like 2024-03-05T14:30:00+08:00"),
    N_("a list of at most 500 items"),
    N_("an object with sku, name, qty and price"),
    N_("a whole number from 1"),
    N_("one of tmall, jd, douyin, pdd, web, store"),
    N_("1 to 64 characters"),
    N_("an object with mobile, email and name"),
    N_("text of up to 100 characters"),
    N_("is in the future"),
    N_("one of paid, refunded, cancelled"),
    N_("a three-letter code like CNY"),
    # db/staff/accounts.py: accounts, sign-in, two-factor and API keys
    N_("letters, digits, dot, dash or underscore; up to 64"),
    N_("one of admin, manager, staff"),
    N_("already taken"),
    N_("wrong password"),
    N_("wrong username or password"),
    N_("that code does not match; try the newest one"),
    N_("wrong code"),
    N_("1 to 80 characters"),
    # db/staff/passwords.py: WeakPassword
    N_("at least 8 characters"),
    N_("at most 128 characters"),
    N_("this password is too common"),
    N_("must not be the username"),
    # db/customers/rules.py: rule tags (parse_rule)
    N_("not a valid rule"),
    N_('a rule is {"all": [condition, ...]}'),
    N_("add at least one condition"),
    N_("at most 20 conditions"),
    N_("each condition has exactly one type"),
    N_("unknown condition"),
    N_("choose at least one stage"),
    N_("choose at least one channel"),
    N_("choose at least one month"),
    N_("choose at least one"),
    N_("at most 50 names of up to 40 characters"),
    N_("a whole number from 1 to 5"),
    N_("a whole number from 0 to 1000000"),
    N_("a whole number from 1 to 36500"),
    N_("an amount like 500.00"),
    N_("give a minimum, a maximum or both"),
    N_("must not be less than the minimum"),
    N_("give a range for R, F or M"),
    N_("a range of scores from 1 to 5"),
    N_("the lower score must not be above the higher"),
    N_("choose a field and a comparison"),
    N_("choose a field"),
    N_("no such field"),
    N_("one of eq, contains, gte, lte, set, unset"),
    N_("this comparison does not fit the field"),
    N_("within N days or over N days ago"),
    N_("at most 60 characters"),
    # db/customers/tags.py: tags
    N_("one of blue, green, amber, red, purple, neutral"),
    N_("at most 200 characters"),
    N_("a tag with this name already exists"),
    N_("a manual tag cannot get a rule; make a new rule tag instead"),
    # db/demo.py (crm demo --customers)
    N_("customers must not be negative"),
    # db/imports/ (reader.py, mapping.py, values.py, rows.py, runner.py, jobs.py): files that
    # cannot be read, the mapping step, and per-cell errors shown in the preview
    N_("the file is empty"),
    N_("the file has no data rows under its header"),
    N_("the file is in UTF-16 or is not a text file: save it as CSV UTF-8 or as .xlsx"),
    N_("the file's text encoding is not UTF-8 or GB18030: save it as CSV UTF-8"),
    N_("the file is not valid UTF-8 text further on (a mix of encodings?): save it again as CSV UTF-8"),
    N_("the file is not valid GB18030 text further on (a mix of encodings?): save it again as CSV UTF-8"),
    N_("this is an old Excel .xls file: save it as .xlsx or CSV and try again"),
    N_("this .xlsx file is damaged or not really an Excel file"),
    N_("the .xlsx file holds too many parts to be a spreadsheet"),
    N_("the .xlsx file unpacks to far more than it holds (a zip bomb?)"),
    N_("the .xlsx file unpacks to more than 1 GB"),
    N_("customers or orders"),
    N_("a name column is required"),
    N_("a mobile or an e-mail column is required"),
    N_("an order number column is required"),
    N_("an order time column is required"),
    N_("an amount column is required"),
    N_("choose the channel of these orders"),
    N_("not a field you can import"),
    N_("this field is already taken by another column"),
    N_("this import has already started"),
    N_("not a date like 1990-05-17"),
    N_("not a time like 2024-03-05 14:30"),
    N_("not a plausible birthday"),
    N_("男 or 女 (male or female)"),
    N_("1 to 64 characters"),
    N_("at most 200 characters"),
    N_("is before the year 2000"),
    N_("belongs to another customer"),
    N_("a customer with this mobile or e-mail already exists outside your team"),
    N_("the customer of this order is outside your team"),
    N_("this order belongs to a customer outside your team"),
    N_("the account that started this import no longer exists"),
    N_("only managers and admins may import"),
    N_("the import stopped on an unexpected error; the rows before it were saved"),
    # db/customers/merge.py, duplicates.py and export.py
    N_("a customer cannot be merged with itself"),
    N_("this customer was already merged"),
    N_("not a tag"),
    N_("one of prospect, new, active, dormant, churned"),
    N_("not a filter of the customer list yet"),
    N_("one of csv, xlsx"),
    # db/customers/fields.py: custom fields (definitions and the values on a customer)
    N_("a number like 12.5"),
    N_("at most four decimal places"),
    N_("not one of the options"),
    N_("at most 500 characters"),
    N_("no such custom field"),
    N_("a list of options"),
    N_("at least one option"),
    N_("at most 50 options of up to 60 characters"),
    N_("lowercase letters, digits and _, starting with a letter"),
    N_("one of text, number, date, choice"),
    N_("at most 50 custom fields"),
    N_("a field with this key already exists"),
    # db/customers/lifecycle.py: parse_thresholds
    N_("a whole number of days from 1 to 3650"),
    N_("new ≤ active < dormant days"),
    # db/push/subscriptions.py and web/push.py: a browser's push subscription
    N_("at most 2048 characters"),
    N_("must be an https URL"),
    N_("not a known push service"),
    N_("must be a P-256 public key (base64url)"),
    N_("must be 16 bytes (base64url)"),
    N_("must be JSON"),
]

# Not domain code, but translated the same way: web/account.py keeps these flash messages in a
# plain dict (MESSAGES) and shows them with `_(MESSAGES[key])`, so nothing marks them there.
WEB_FLASH_MESSAGES = [
    N_("Your password was changed. Other devices were signed out."),
    N_("Two-factor sign-in is on."),
    N_("Two-factor sign-in is off."),
    N_("Language saved."),
    # web/tags.py and web/settings_pages.py (MESSAGES)
    N_("Tag created."),
    N_("Tag saved."),
    N_("Tag deleted."),
    N_("Field added."),
    N_("Field saved."),
    N_("Field deleted."),
    N_("Thresholds saved; every customer's stage was recomputed."),
    # web/account.py (MESSAGES): the account page's Send a test
    N_("A test notification is on its way to your devices."),
    N_("No device gets reminders yet. Turn them on on this phone first."),
]
