using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;

namespace Omr.Engine.Probing
{
    public sealed partial class SmtpProbeSession
    {
        /// <summary>The first accepted test, the one -Verify sends its message through.</summary>
        public ExpandedRelayTest? VerificationTest(string verifyAddress)
        {
            if (_expanded is null || _context is null) return null;
            var i = Array.FindIndex(_outcomes, o => o?.Accepted == true);
            if (i < 0) return null;
            // The same variant, addressed to the operator's own mailbox.
            var ctx = new ProbeContext(_context.ProbeFrom, verifyAddress, _context.AddressLiteral, _context.Host, _context.Domain);
            return RelayTestCatalog.Expand(_settings.Tests[i], ctx);
        }

        /// <summary>
        /// Sends ONE verification message through the given variant: the only place DATA is ever sent.
        /// Proof becomes DataAccepted on 250 after the final dot.
        /// </summary>
        public async Task VerifyAsync(ExpandedRelayTest test, string verifyAddress, Func<ExpandedRelayTest, byte[]> message, string messageId, CancellationToken ct)
        {
            _verifyAddress = verifyAddress;
            _verifiedWith = test.Name;
            _verificationMessageId = messageId;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(_settings.Timeout);
            var token = deadline.Token;
            string stage = "connect";
            _transcript.Note($"verification: sending one test message to {verifyAddress} through relay test '{test.Name}'");
            using var conn = new SmtpConnection(_transcript, _settings.Limits, _budget);
            _connections++;
            try
            {
                await conn.ConnectAsync(_target.Address, _target.Port, ImplicitTls, _target.Host, token).ConfigureAwait(false);
                stage = "greeting";
                if (!await OpenAsync(conn, token, s => stage = s).ConfigureAwait(false))
                {
                    Unverified($"the server refused the verification session at {stage}");
                    return;
                }
                stage = "MAIL";
                await conn.SendAsync("MAIL FROM:" + test.MailFrom, token).ConfigureAwait(false);
                var mail = await conn.ReadReplyAsync(token).ConfigureAwait(false);
                if (!mail.IsPositive) { Unverified("MAIL FROM refused: " + mail); await QuitAsync(conn, token).ConfigureAwait(false); return; }
                stage = "RCPT";
                await conn.SendAsync("RCPT TO:" + test.RcptTo, token).ConfigureAwait(false);
                var rcpt = await conn.ReadReplyAsync(token).ConfigureAwait(false);
                if (!rcpt.IsPositive) { Unverified("RCPT TO for the verification address refused: " + rcpt); await QuitAsync(conn, token).ConfigureAwait(false); return; }
                stage = "DATA";
                await conn.SendAsync("DATA", token).ConfigureAwait(false);
                var data = await conn.ReadReplyAsync(token).ConfigureAwait(false);
                if (data.Code != 354) { Unverified("DATA refused: " + data); await QuitAsync(conn, token).ConfigureAwait(false); return; }
                var bytes = message(test);
                await conn.SendRawAsync(bytes, $"[message of {bytes.Length} bytes, Message-ID <{messageId}>]", token).ConfigureAwait(false);
                _transcript.Client(".");
                stage = "end of data";
                var done = await conn.ReadReplyAsync(token).ConfigureAwait(false);
                _verificationReply = Transcript.Sanitize(done.ToString());
                if (done.IsPositive)
                {
                    _proof = RelayProof.DataAccepted;
                    _verificationNote = $"The verification message was accepted for delivery ({_verificationReply}). Get-RelayEvidence finds out whether it arrived.";
                }
                else
                {
                    Unverified("the message was refused after DATA: " + done);
                }
                await QuitAsync(conn, token).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex)
            {
                Unverified($"verification failed at {stage}: {ex.Message}");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Unverified($"verification deadline ({_settings.Timeout.TotalSeconds:0.#} s) reached at {stage}");
            }
        }

        private void Unverified(string why)
        {
            var clean = Transcript.Sanitize(why);
            _verificationReply ??= clean;
            _verificationNote = "Verification not accepted: " + clean + ".";
            _transcript.Note("verification: " + clean);
        }
    }
}
