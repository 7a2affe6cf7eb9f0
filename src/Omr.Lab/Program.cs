using System.Globalization;
using System.Runtime.InteropServices;

namespace Omr.Lab;

/// <summary>
/// dotnet Omr.Lab.dll [--smtp-port N] [--dns-port N] [--maildrop DIR] [--greylist-sec N] [--tarpit-sec N] [--no-stdin] [--verbose]
/// Prints the manifest as one JSON line, then runs until stdin reaches EOF (unless --no-stdin) or SIGTERM/SIGINT.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var options = new LabOptions();
        bool watchStdin = true, verbose = false;
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException("missing value after " + args[i]);
                double Seconds() => double.Parse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture);
                switch (args[i])
                {
                    case "--smtp-port": options.SmtpPort = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--dns-port": options.DnsPort = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--maildrop": options.MailDropPath = Next(); break;
                    case "--greylist-sec": options.GreylistDelay = TimeSpan.FromSeconds(Seconds()); break;
                    case "--tarpit-sec": options.TarpitDelay = TimeSpan.FromSeconds(Seconds()); break;
                    case "--no-stdin": watchStdin = false; break;
                    case "--verbose": verbose = true; break;
                    case "-h" or "--help":
                        await Console.Out.WriteLineAsync("usage: Omr.Lab [--smtp-port N] [--dns-port N] [--maildrop DIR] [--greylist-sec N] [--tarpit-sec N] [--no-stdin] [--verbose]").ConfigureAwait(false);
                        return 0;
                    default: throw new ArgumentException("unknown argument " + args[i]);
                }
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync("Omr.Lab: " + ex.Message).ConfigureAwait(false);
            return 2;
        }
        if (verbose) options.Log = line => Console.Error.WriteLine(line);

        using var stop = new CancellationTokenSource();
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });

        Lab lab;
        try
        {
            lab = await Lab.StartAsync(options, stop.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or UnauthorizedAccessException or OperationCanceledException)
        {
            await Console.Error.WriteLineAsync("Omr.Lab: " + ex.Message).ConfigureAwait(false);
            return 1;
        }

        await using (lab.ConfigureAwait(false))
        {
            await Console.Out.WriteLineAsync(lab.ToJson()).ConfigureAwait(false);
            await Console.Out.FlushAsync().ConfigureAwait(false);

            if (watchStdin)
            {
                _ = Task.Run(async () =>
                {
                    try
                    {
                        using var stdin = Console.OpenStandardInput();
                        var buffer = new byte[4096];
                        while (await stdin.ReadAsync(buffer, stop.Token).ConfigureAwait(false) > 0) { }
                    }
                    catch (Exception) { /* EOF, error or stop: all mean stop */ }
                    try { stop.Cancel(); } catch (ObjectDisposedException) { /* already stopping */ }
                });
            }
            try { await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { /* stop requested */ }
            options.Log?.Invoke("lab stopping");
        }
        return 0;
    }
}
