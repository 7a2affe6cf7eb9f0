using System;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Omr.Engine.Probing.Battery;

namespace Omr.Engine.Probing
{
    public sealed partial class SmtpProbeSession
    {
        /// <summary>The first accepted test, the one -Verify sends its message through.</summary>
        public ExpandedRelayTest? VerificationTest(string verifyAddress) => VerificationTest(Primary, verifyAddress);

        internal ExpandedRelayTest? VerificationTest(ProbeTargetContext c, string verifyAddress)
        {
            // This server receives the operator's mail itself: a message through it proves nothing.
            if (c.Units is null || c.Context is null || VerifyWithheld() != null) return null;
            int i = -1;
            for (int k = 0; k < c.Units.Count; k++)
                if (c.Units[k].Outcome?.Accepted == true) { i = k; break; }
            if (i < 0) return null;
            // The same variant, addressed to the operator's own mailbox.
            var ctx = new ProbeContext(c.Context.ProbeFrom, verifyAddress, c.Context.AddressLiteral, c.Context.Host, c.Context.Domain);
            return RelayTestTemplates.Expand(_settings.Tests[i], ctx);
        }

        /// <summary>
        /// Sends ONE verification message through the given variant: the only place DATA is ever sent.
        /// Proof becomes DataAccepted on 250 after the final dot.
        /// </summary>
        public Task VerifyAsync(ExpandedRelayTest test, string verifyAddress, Func<ExpandedRelayTest, byte[]> message, string messageId, CancellationToken ct)
            => VerifyAsync(Primary, test, verifyAddress, message, messageId, ct);

        internal async Task VerifyAsync(ProbeTargetContext c, ExpandedRelayTest test, string verifyAddress, Func<ExpandedRelayTest, byte[]> message, string messageId, CancellationToken ct)
        {
            c.VerifyAddress = verifyAddress;
            c.VerifiedWith = test.Name;
            c.VerificationMessageId = messageId;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
            deadline.CancelAfter(_settings.Timeout);
            var token = deadline.Token;
            string stage = "connect";
            _transcript.Add("*", $"verification: sending one test message to {verifyAddress} through relay test '{test.Name}'", c.Tag);
            using var conn = new SmtpConnection(_transcript, _settings.Limits, _budget) { Tag = c.Tag };
            Interlocked.Increment(ref _connections);
            bool gated = false;
            try
            {
                if (AddressSlots != null) { await AddressSlots.WaitAsync(token).ConfigureAwait(false); gated = true; }
                await conn.ConnectAsync(_target.Address, _target.Port, ImplicitTls, _target.Host, token).ConfigureAwait(false);
                stage = "greeting";
                if (!await OpenAsync(conn, token, s => stage = s).ConfigureAwait(false))
                {
                    Unverified(c, $"the server refused the verification session at {stage}");
                    return;
                }
                // One command, one reply, with the same checks as the battery's lock-step.
                stage = "MAIL";
                var mail = await SmtpExchange.CommandAsync(conn, "MAIL", SmtpCommand.Mail(test.MailFrom), token).ConfigureAwait(false);
                if (!mail.IsPositive) { Unverified(c, "MAIL FROM refused: " + mail); await SmtpExchange.QuitAsync(conn, token).ConfigureAwait(false); return; }
                stage = "RCPT";
                var rcpt = await SmtpExchange.CommandAsync(conn, "RCPT", SmtpCommand.Rcpt(test.RcptTo), token).ConfigureAwait(false);
                if (!rcpt.IsPositive) { Unverified(c, "RCPT TO for the verification address refused: " + rcpt); await SmtpExchange.QuitAsync(conn, token).ConfigureAwait(false); return; }
                stage = "DATA";
                var data = await SmtpExchange.CommandAsync(conn, "DATA", "DATA", token).ConfigureAwait(false);
                if (data.Code != 354) { Unverified(c, "DATA refused: " + data); await SmtpExchange.QuitAsync(conn, token).ConfigureAwait(false); return; }
                var bytes = message(test);
                await conn.SendRawAsync(bytes, $"[message of {bytes.Length} bytes, Message-ID <{messageId}>]", token).ConfigureAwait(false);
                _transcript.Add("C", ".", c.Tag);
                stage = "end of data";
                var done = await conn.ReadReplyAsync(token).ConfigureAwait(false);
                c.VerificationReply = Transcript.Sanitize(done.ToString());
                if (done.Code == 250)
                {
                    c.Proof = RelayProof.DataAccepted;
                    c.VerificationNote = $"The verification message was accepted for delivery ({c.VerificationReply}). Get-RelayEvidence finds out whether it arrived.";
                }
                else
                {
                    Unverified(c, "the message was refused after DATA: " + done);
                }
                await SmtpExchange.QuitAsync(conn, token).ConfigureAwait(false);
            }
            catch (SmtpSessionException ex)
            {
                Unverified(c, $"verification failed at {stage}: {ex.Message}");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Unverified(c, $"verification deadline ({_settings.Timeout.TotalSeconds:0.#} s) reached at {stage}");
            }
            finally
            {
                if (gated) AddressSlots!.Release();
            }
        }

        private void Unverified(ProbeTargetContext c, string why)
        {
            var clean = Transcript.Sanitize(why);
            c.VerificationReply ??= clean;
            c.VerificationNote = "Verification not accepted: " + clean + ".";
            _transcript.Add("*", "verification: " + clean, c.Tag);
        }
    }
}
