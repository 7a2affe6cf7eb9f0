#Requires -Version 7.2
# The evidence report.html of a real bundle (lab) fits a 1200-pixel browser window without
# sideways scrolling, measured by Debian's headless Chromium. The bundle is made with long probe
# and verification addresses that have no break opportunity, so that the relay-test table is as
# wide as it gets. Without Chromium the test FAILS, saying how to install it; as root with apt-get
# it installs the 'chromium' package first (tests/lab/install-peers.sh lists it too).

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule

    function script:Find-Chromium {
        foreach ($name in 'chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable') {
            $cmd = Get-Command $name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
            if ($cmd) { return $cmd.Source }
        }
        $null
    }

    $script:Chromium = Find-Chromium
    $script:ChromiumProblem = $null
    if (-not $Chromium) {
        $isRoot = $IsLinux -and ((& id -u 2>$null) -eq '0')
        if ($isRoot -and (Get-Command apt-get -CommandType Application -ErrorAction SilentlyContinue)) {
            $env:DEBIAN_FRONTEND = 'noninteractive'
            $log = & apt-get install -y chromium 2>&1
            if ($LASTEXITCODE -ne 0) { $script:ChromiumProblem = "apt-get install -y chromium failed (exit $LASTEXITCODE): $(@($log)[-5..-1] -join ' | ')" }
            $script:Chromium = Find-Chromium
        }
        elseif (-not $ChromiumProblem) {
            $script:ChromiumProblem = 'Chromium is not installed and this is not root with apt-get: run tests/lab/install-peers.sh as root (or apt-get install -y chromium).'
        }
    }

    function script:Invoke-Chromium {
        param([string[]] $Arguments, [int] $TimeoutSec = 120)
        $userData = Join-Path ([IO.Path]::GetTempPath()) ('omr-chromium-' + [guid]::NewGuid().ToString('N'))
        New-Item -ItemType Directory -Path $userData | Out-Null
        try {
            $psi = [System.Diagnostics.ProcessStartInfo]::new($Chromium)
            foreach ($a in @('--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
                    "--user-data-dir=$userData", '--window-size=1200,900') + $Arguments) { $psi.ArgumentList.Add($a) }
            $psi.UseShellExecute = $false
            $psi.RedirectStandardOutput = $true
            $psi.RedirectStandardError = $true
            $p = [System.Diagnostics.Process]::Start($psi)
            $out = $p.StandardOutput.ReadToEndAsync()
            $err = $p.StandardError.ReadToEndAsync()
            if (-not $p.WaitForExit($TimeoutSec * 1000)) {
                $p.Kill($true)
                throw "chromium did not finish within $TimeoutSec s"
            }
            [pscustomobject]@{ ExitCode = $p.ExitCode; Output = $out.Result; Error = $err.Result }
        }
        finally {
            Remove-Item -Recurse -Force -LiteralPath $userData -ErrorAction SilentlyContinue
        }
    }

    $script:Lab = Start-OmrLab
    # Real bundles: one with the usual addresses, one with the longest unbreakable addresses a
    # mailbox can have (64-character local parts).
    $script:Bundles = @(
        foreach ($case in @(
                @{ From = 'omr-probe@example.org'; Verify = 'relaycheck@noc.example.net' }
                @{ From = 'omrprobewithalonglocalpartthathasnobreakopportunityatallxxxxxxx@probes.sub.example.org'
                    Verify = 'relaycheckmailboxwithalonglocalpartforthewidthtestofthereport@noc.example.net' }
            )) {
            $out = Join-Path $TestDrive ([guid]::NewGuid().ToString('N'))
            $ev = Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20 -ProbeFrom $case.From `
                -Verify -VerifyAddress $case.Verify -Confirm:$false |
                Get-RelayEvidence -MailDrop $Lab.mailDrop -WaitSec 10 -OutputPath $out
            [pscustomobject]@{ Name = $case.From; Evidence = $ev; Report = if ($ev.BundlePath) { Join-Path $ev.BundlePath 'report.html' } }
        })
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Evidence report.html in a 1200-pixel window' -Tag Lab, Report {
    It 'has a headless Chromium to render with' {
        $Chromium | Should -Not -BeNullOrEmpty -Because "the report is checked in a real browser: $ChromiumProblem"
    }

    It 'has real bundles to render' {
        foreach ($b in $Bundles) {
            $b.Evidence.Delivered | Should -BeTrue -Because $b.Evidence.Reason
            $b.Report | Should -Exist
        }
    }

    It 'keeps the report free of scripts, under its Content-Security-Policy' {
        foreach ($b in $Bundles) {
            $html = Get-Content -Raw -LiteralPath $b.Report
            $html | Should -Match 'Content-Security-Policy" content="default-src ''none''; style-src ''unsafe-inline''"'
            $html | Should -Not -Match '<script'
        }
    }

    It 'renders without sideways scrolling (<_>)' -ForEach @('usual addresses', 'longest addresses') {
        $Chromium | Should -Not -BeNullOrEmpty -Because $ChromiumProblem
        $bundle = $Bundles[$(if ($_ -eq 'usual addresses') { 0 } else { 1 })]
        # The same page, measured: the CSP meta (it forbids scripts) is removed and a script that
        # writes the page's widths into the title is appended; the layout is the report's own.
        $html = Get-Content -Raw -LiteralPath $bundle.Report
        $html = $html -replace '<meta http-equiv="Content-Security-Policy"[^>]*>', ''
        $measure = @'
<script>
var cw = document.documentElement.clientWidth, right = 0, widest = '';
document.querySelectorAll('body *').forEach(function (e) {
  var r = e.getBoundingClientRect().right;
  if (r > right) { right = r; widest = e.tagName + ' ' + (e.textContent || '').slice(0, 60); }
});
document.title = 'OMRMEASURE ' + JSON.stringify({ scrollWidth: document.documentElement.scrollWidth, clientWidth: cw,
  innerWidth: window.innerWidth, right: Math.ceil(right), widest: widest });
</script>
'@
        $probe = Join-Path (Split-Path -Parent $bundle.Report) 'measure.html'
        Set-Content -LiteralPath $probe -Value ($html -replace '</body>', "$measure</body>") -Encoding utf8
        $run = Invoke-Chromium -Arguments @('--run-all-compositor-stages-before-draw', '--virtual-time-budget=3000', '--dump-dom', [System.Uri]::new($probe).AbsoluteUri)
        $run.Output | Should -Match 'OMRMEASURE' -Because "chromium exit $($run.ExitCode): $($run.Error)"
        $json = [regex]::Match($run.Output, 'OMRMEASURE (\{[^<]*\})').Groups[1].Value
        $m = [System.Net.WebUtility]::HtmlDecode($json) | ConvertFrom-Json
        $m.innerWidth | Should -Be 1200 -Because 'the window is 1200 pixels wide'
        $m.scrollWidth | Should -BeLessOrEqual $m.clientWidth -Because "the page must not scroll sideways (widest: $($m.widest))"
        $m.right | Should -BeLessOrEqual $m.clientWidth -Because "no element may stick out (widest: $($m.widest))"
    }

    It 'renders a screenshot of the real report' {
        $Chromium | Should -Not -BeNullOrEmpty -Because $ChromiumProblem
        $png = Join-Path (Get-Item TestDrive:).FullName 'report.png'
        $run = Invoke-Chromium -Arguments @("--screenshot=$png", [System.Uri]::new($Bundles[1].Report).AbsoluteUri)
        $png | Should -Exist -Because "chromium exit $($run.ExitCode): $($run.Error)"
        $bytes = [IO.File]::ReadAllBytes($png)
        # PNG signature, then IHDR: width and height, big-endian.
        [BitConverter]::ToString($bytes, 0, 8) | Should -Be '89-50-4E-47-0D-0A-1A-0A'
        $width = ([int]$bytes[16] -shl 24) -bor ([int]$bytes[17] -shl 16) -bor ([int]$bytes[18] -shl 8) -bor [int]$bytes[19]
        $width | Should -Be 1200
        if ($env:OMR_REPORT_PNG) { Copy-Item -LiteralPath $png -Destination $env:OMR_REPORT_PNG }
    }
}

Describe 'The morning report of Invoke-RelayMonitor in headless Chromium' -Tag Lab, Report, Monitor {
    BeforeAll {
        # A multi-run lab history on one state database: an old server of closed.omr-lab.test that was
        # open (seeding scan), then three monitor runs: open.omr-lab.test newly open and both noticed;
        # both still open; the old server fixed.
        $script:Root = Join-Path $TestDrive 'morning'
        New-Item -ItemType Directory $Root | Out-Null
        $script:Db = Join-Path $Root 'omr.db'
        $flip = New-OmrFlip -Port $Lab.smtpPort
        try {
            $null = Test-OpenRelay -ComputerName $flip.Address -Domain closed.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20 -StatePath $Db
            $m = @{
                Domain = 'open.omr-lab.test', 'closed.omr-lab.test'; StatePath = $Db; ReportPath = "$Root/reports"
                VerifyAddress = 'relaycheck@noc.example.net'; MailDrop = $Lab.mailDrop; EvidenceWaitSec = 5; EvidencePath = "$Root/evidence"
                PickupDirectory = "$Root/pickup"; From = 'noc@example.net'; MinimumProof = 'RecipientAccepted'
                DnsServer = $Lab.dnsServer; ScanPort = $Lab.smtpPort; TimeoutSec = 20; WarningAction = 'SilentlyContinue'
            }
            $script:Runs = @(
                Invoke-RelayMonitor @m
                Invoke-RelayMonitor @m
                $(Start-Sleep -Milliseconds 10; $flip.Server.Mode = 'closed'; Invoke-RelayMonitor @m)
            )
        }
        finally { $flip.Server.Stop() }
        $script:Last = $Runs[-1]
        $script:ScanRuns = @(Get-RelayHistory $Db | Select-Object -ExpandProperty RunId -Unique).Count
        if ($Chromium) {
            $script:Dom = (Invoke-Chromium -Arguments @('--run-all-compositor-stages-before-draw', '--virtual-time-budget=3000', '--dump-dom', [System.Uri]::new($Last.ReportPath).AbsoluteUri)).Output
        }
    }

    It 'the history is what the report is checked against' {
        @($Runs.ExitCode) | Should -Be @(1, 1, 1)
        $Runs[0].NewlyOpen | Should -Be 1
        $Runs[0].NoticesSent | Should -Be 2
        $Last.Fixed | Should -Be 1
        $ScanRuns | Should -Be 4
        $Last.ReportPath | Should -Exist
    }

    It 'is one self-contained file: no script, no external asset' {
        $html = Get-Content -Raw -LiteralPath $Last.ReportPath
        $html | Should -Not -Match '<script'
        $html | Should -Not -Match '(src|href)\s*=\s*"(https?:)?//'
        $html | Should -Not -Match '<link '
    }

    It 'shows the numbers that matter at the top' {
        $Dom | Should -Not -BeNullOrEmpty -Because $ChromiumProblem
        $figure = { param($label) [regex]::Match($Dom, '<span class="n">(\d+)</span><span class="label">' + [regex]::Escape($label) + '</span>').Groups[1].Value }
        & $figure 'open now' | Should -Be '1'
        & $figure 'newly open' | Should -Be '0'
        & $figure 'fixed' | Should -Be '1'
        & $figure 'hidden' | Should -Be '0'
        & $figure 'errors' | Should -Be '0'
    }

    It 'draws one point per scan run in the trend pictures, and the median days to fix' {
        $Dom | Should -Not -BeNullOrEmpty -Because $ChromiumProblem
        foreach ($id in 'trend-30', 'trend-90') {
            $svg = [regex]::Match($Dom, '<svg id="' + $id + '"[\s\S]*?</svg>').Value
            $svg | Should -Not -BeNullOrEmpty -Because "the $id chart is inline SVG"
            ([regex]::Matches($svg, '<circle class="run"')).Count | Should -Be $ScanRuns
        }
        $Dom | Should -Match 'Median days to fix: <strong>'
    }

    It 'lists what changed first, then what is still open, with its notice date' {
        $Dom | Should -Not -BeNullOrEmpty -Because $ChromiumProblem
        $order = 'newly-open', 'fixed', 'hidden', 'still-open', 'inconclusive', 'notices', 'errors' | ForEach-Object { $Dom.IndexOf("<h2 id=`"$_`"") }
        $order | Should -Not -Contain -1
        ($order | Sort-Object) | Should -Be $order
        $fixed = $Dom.Substring($order[1], $order[2] - $order[1])
        $fixed | Should -Match '127\.67\.'
        $still = $Dom.Substring($order[3], $order[4] - $order[3])
        $still | Should -Match 'open\.omr-lab\.test'
        $still | Should -Match '\d{4}-\d{2}-\d{2}' -Because 'the case shows when it was noticed'
        $still | Should -Not -Match 'old server' -Because 'the MX of open.omr-lab.test never moved'
        $still | Should -Match '<a href="file:[^"]+/report\.html"' -Because 'the case links to the evidence bundle of its first run, two runs later'
        $still | Should -Match 'Delivered' -Because 'the case was proven by delivery in its first run'
        $Dom | Should -Not -Match 'not proven by delivery'
    }

    It 'counts the open relays by software, each with the fix the notice gives for it' {
        $html = Get-Content -Raw -LiteralPath $Last.ReportPath
        $open = @(Get-RelayHistory $Db -Latest -Verdict Open)
        $open.Count | Should -Be 1
        $software = $open[0].Software
        $software | Should -Not -BeNullOrEmpty -Because 'the scan recorded the software of each result'
        $html.IndexOf('<h2 id="by-software">Open relays by software (1)</h2>') | Should -BeGreaterThan $html.IndexOf('<h2 id="still-open">')
        $section = [regex]::Match($html, '<h2 id="by-software">[\s\S]*?</table>').Value
        $section | Should -Match ('<td class="name">' + [regex]::Escape([System.Net.WebUtility]::HtmlEncode("$software")) + '</td><td class="num">1</td>')
        $section | Should -Match '<details><summary>|<td class="reason">Other servers' -Because 'each product comes with its fix'
        (Get-Content -Raw -LiteralPath ([IO.Path]::ChangeExtension($Last.ReportPath, '.txt'))) | Should -Match ("Open relays by software \(1\):\n  " + [regex]::Escape("$software") + ': 1 - ')
    }

    It 'keeps a screenshot of the report under out/' {
        $Chromium | Should -Not -BeNullOrEmpty -Because $ChromiumProblem
        $dir = Join-Path (Split-Path -Parent $PSScriptRoot) 'out/report'
        New-Item -ItemType Directory -Force $dir | Out-Null
        $png = Join-Path $dir 'morning-report.png'
        Remove-Item -LiteralPath $png -ErrorAction SilentlyContinue
        $run = Invoke-Chromium -Arguments @('--window-size=1200,2000', "--screenshot=$png", [System.Uri]::new($Last.ReportPath).AbsoluteUri)
        $png | Should -Exist -Because "chromium exit $($run.ExitCode): $($run.Error)"
        [BitConverter]::ToString([IO.File]::ReadAllBytes($png), 0, 8) | Should -Be '89-50-4E-47-0D-0A-1A-0A'
    }
}
