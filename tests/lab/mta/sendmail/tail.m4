dnl #
dnl # Shared last part of the three Sendmail peers' .mc files: the mailers (after every FEATURE, as
dnl # cf/README requires). local = dd into /dev/null (see head.m4); smtp defines smtp, esmtp, smtp8,
dnl # dsmtp and relay, all pointed at the smart host's port by head.m4. No uucp, procmail, or other
dnl # mailer exists, so a bang path can only be refused, handled locally or given to the smart host.
dnl #
MAILER(`local')dnl
MAILER(`smtp')dnl
