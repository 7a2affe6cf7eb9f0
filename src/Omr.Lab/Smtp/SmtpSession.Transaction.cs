using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Omr.Lab.Smtp;

/// <summary>The mail transaction: MAIL, RCPT (the relay policy decides) and DATA into the mail drop, with the hops a relay writes.</summary>
internal sealed partial class SmtpSession
{
    private async Task<bool> MailAsync(string arg)
    {
        if (_b.Mail == MailMode.DropConnection) return false;
        if (_b.Mail == MailMode.Hang)
        {
            await IgnoreInputAsync().ConfigureAwait(false);
            return false;
        }
        if (_helo is null) return await ErrorAsync("503 5.5.1 Error: send HELO/EHLO first").ConfigureAwait(false);
        if (_b.Mail == MailMode.RequireTls && !_tls)
        {
            await SendAsync("530 5.7.0 Must issue a STARTTLS command first").ConfigureAwait(false);
            return true;
        }
        if (_b.Mail == MailMode.RequireAuth)
        {
            await SendAsync("530 5.7.0 Authentication required").ConfigureAwait(false);
            return true;
        }
        if (_sender is not null) return await ErrorAsync("503 5.5.1 Error: nested MAIL command").ConfigureAwait(false);
        if (!arg.StartsWith("FROM:", StringComparison.OrdinalIgnoreCase))
            return await ErrorAsync("501 5.5.4 Syntax: MAIL FROM:<address>").ConfigureAwait(false);
        var path = SmtpPath.Parse(arg[5..]);
        var size = path.GetParameter("SIZE");
        if (size is not null && long.TryParse(size, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > MaxMessageSize)
        {
            await SendAsync("552 5.3.4 Message size exceeds fixed maximum message size").ConfigureAwait(false);
            return true;
        }
        var reply = _b.Policy.CheckSender(Context(), path);
        if (reply.IsPositive) _sender = path;
        await SendAsync(reply.ToString()).ConfigureAwait(false);
        if (_b.Mail == MailMode.ReplyTwice) await SendAsync(reply.ToString()).ConfigureAwait(false);
        return reply.Code is not (500 or 501 or 503) || await CountErrorAsync().ConfigureAwait(false);
    }

    private async Task<bool> RcptAsync(string arg)
    {
        if (_sender is null) return await ErrorAsync("503 5.5.1 Error: need MAIL command").ConfigureAwait(false);
        if (!arg.StartsWith("TO:", StringComparison.OrdinalIgnoreCase))
            return await ErrorAsync("501 5.5.4 Syntax: RCPT TO:<address>").ConfigureAwait(false);
        if (_b.StaleReplyBeforeRcpt > TimeSpan.Zero)
        {
            await SendAsync("250 2.1.0 Ok").ConfigureAwait(false);
            await Task.Delay(_b.StaleReplyBeforeRcpt, _ct).ConfigureAwait(false);
        }
        if (_b.Rcpt == RcptMode.NoReply)
        {
            _unanswered++;
            return true;
        }
        if (_b.RawRcptReplies is { Count: > 0 } raw)
        {
            await SendRawAsync(raw[_rawRcptReplies++ % raw.Count]).ConfigureAwait(false);
            return true;
        }
        if (_recipients.Count >= MaxRecipients)
        {
            await SendAsync("452 4.5.3 Error: too many recipients").ConfigureAwait(false);
            return true;
        }
        var path = SmtpPath.Parse(arg[3..]);
        var reply = _b.Policy.CheckRecipient(Context(), _sender, path);
        if (reply.IsPositive) _recipients.Add(path);
        await SendAsync(reply.ToString()).ConfigureAwait(false);
        _rt.Log?.Invoke($"[{_id.Name}] MAIL {_sender.Raw} RCPT {path.Raw} -> {reply}");
        if (reply.IsPermanentFailure)
        {
            _refusedRecipients++;
            if (_b.HangupAfterRefusedRecipients > 0 && _refusedRecipients % _b.HangupAfterRefusedRecipients == 0)
            {
                // Like Postfix smtpd_hard_error_limit: 421 right after the reply that hit the limit.
                await SendAsync("421 4.7.0 " + Host + " Error: too many errors").ConfigureAwait(false);
                return false;
            }
        }
        return true;
    }

    private async Task<bool> DataAsync(string arg)
    {
        if (_sender is null) return await ErrorAsync("503 5.5.1 Error: need MAIL command").ConfigureAwait(false);
        if (_recipients.Count == 0) return await ErrorAsync("554 5.5.1 Error: no valid recipients").ConfigureAwait(false);
        if (arg.Length > 0) return await ErrorAsync("501 5.5.4 Syntax: DATA").ConfigureAwait(false);
        await SendAsync("354 End data with <CR><LF>.<CR><LF>").ConfigureAwait(false);

        using var body = new MemoryStream();
        bool overflow = false, lineTooLong = false;
        while (true)
        {
            var line = await ReadLineAsync(MaxDataLine).ConfigureAwait(false);
            if (line is null) return false; // client went away mid-message: nothing delivered
            if (line.Value.TooLong) { lineTooLong = true; continue; }
            var bytes = line.Value.Bytes;
            if (bytes.Length == 1 && bytes[0] == '.') break;
            int offset = bytes.Length > 0 && bytes[0] == '.' ? 1 : 0; // dot-unstuffing
            if (body.Length + bytes.Length - offset + 2 > MaxMessageSize) { overflow = true; continue; }
            body.Write(bytes, offset, bytes.Length - offset);
            body.Write("\r\n"u8);
        }

        var sender = _sender;
        var recipients = _recipients.ToArray();
        ResetTransaction();
        if (overflow)
        {
            await SendAsync("552 5.3.4 Message size exceeds fixed maximum message size").ConfigureAwait(false);
            return true;
        }
        if (lineTooLong)
        {
            await SendAsync("554 5.6.0 Message line too long").ConfigureAwait(false);
            return true;
        }

        var id = Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();
        if (_b.Delivers)
        {
            try
            {
                var file = await _rt.MailDrop.WriteAsync(HeaderBlock(id, sender, recipients), body.ToArray(), _ct).ConfigureAwait(false);
                _rt.Log?.Invoke($"[{_id.Name}] delivered {file}");
            }
            catch (IOException ex)
            {
                _rt.Log?.Invoke($"[{_id.Name}] mail drop failed: {ex.Message}");
                await SendAsync("451 4.3.0 Error: local error in processing").ConfigureAwait(false);
                return true;
            }
        }
        await SendAsync("250 2.0.0 Ok: queued as " + id).ConfigureAwait(false);
        return true;
    }

    private string HeaderBlock(string id, SmtpPath sender, SmtpPath[] recipients)
    {
        var sb = new StringBuilder();
        sb.Append("Return-Path: <").Append(sender.Path).Append(">\r\n");
        var relayed = recipients.FirstOrDefault(r => !IsLocalRecipient(r));
        if (relayed is not null)
        {
            // A relay hands the message on: the next server (the recipient's) writes its hop above ours.
            sb.Append("Received: from ").Append(Host).Append(" ([").Append(Literal(_local.Address)).Append("]) by ").Append(NextHop)
              .Append(" (Omr lab: the recipient's server) with ESMTP id ").Append(id).Append("N for <").Append(relayed.Path).Append(">; ")
              .Append(MailDrop.Rfc5322Date(DateTimeOffset.UtcNow)).Append("\r\n");
        }
        sb.Append("Received: from ").Append(_helo ?? "unknown").Append(" ([").Append(Literal(_remote.Address)).Append("]) by ")
          .Append(Host).Append(" ([").Append(Literal(_local.Address)).Append("]) with ESMTP id ").Append(id).Append("; ")
          .Append(MailDrop.Rfc5322Date(DateTimeOffset.UtcNow)).Append("\r\n");
        sb.Append("X-Omr-Lab-Server: ").Append(_id.Name).Append("\r\n");
        foreach (var r in recipients) sb.Append("X-Omr-Lab-Envelope-To: ").Append(r.Raw).Append("\r\n");
        return sb.ToString();
    }

    /// <summary>The name the lab gives the server a relay hands its mail on to.</summary>
    public const string NextHop = "inbound.mailbox.omr-lab.test";

    /// <summary>A recipient in a domain the server receives mail for itself (delivered locally, not relayed).</summary>
    private bool IsLocalRecipient(SmtpPath r)
        => r.Domain is { } d && _b.LocalDomains.Any(l => string.Equals(l, d, StringComparison.OrdinalIgnoreCase));

    private RelayContext Context()
    {
        var client = _remote.Address.IsIPv4MappedToIPv6 ? _remote.Address.MapToIPv4() : _remote.Address;
        return new RelayContext(_id, client, DateTimeOffset.UtcNow);
    }

    private void ResetTransaction()
    {
        _sender = null;
        _recipients.Clear();
    }
}
