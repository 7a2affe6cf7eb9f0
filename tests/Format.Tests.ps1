#Requires -Version 7.2
# What a newcomer sees, against the lab: the default tables of results, evidence and notices fit a
# 120-column console with Domain first; the list views show every property; ToString reads well;
# a saved result (live, Import-Clixml, Import-Csv) piped back to Test-OpenRelay re-tests exactly
# the host and port it tested.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:Scan = @{ DnsServer = $Lab.dnsServer; Port = $Lab.smtpPort; TimeoutSec = 15 }
    # Long names (they wrap), a null MX, every verdict the lab gives quickly.
    $script:Domains = 'open.omr-lab.test', 'closed.omr-lab.test', 'nullmx.omr-lab.test', 'backup.omr-lab.test',
    'vuln-percent-hack-ip.omr-lab.test', 'vuln-quoted-recipient.omr-lab.test', 'starttls-required.omr-lab.test', 'ipv6only.omr-lab.test'
    $script:Results = @(Test-OpenRelay -Domain $Domains @Scan)
    $script:Evidence = @(Test-OpenRelay -Domain open.omr-lab.test, discard.omr-lab.test @Scan -Verify -VerifyAddress relaycheck@noc.example.net -Confirm:$false |
            Get-RelayEvidence -MailDrop $Lab.mailDrop -WaitSec 5 -OutputPath (Join-Path $TestDrive 'evidence'))
    $script:Notices = @($Evidence | Send-RelayNotice -PickupDirectory (Join-Path $TestDrive 'pickup') -From noc@example.net `
            -StatePath (Join-Path $TestDrive 'state') -DnsServer $Lab.dnsServer -MinimumProof DataAccepted -Confirm:$false)

    function script:Assert-Table {
        param([object[]] $Objects, [string] $Because)
        $text = $Objects | Format-Table | Out-String -Width 120
        $lines = @($text -split "\r?\n")
        $long = @($lines | Where-Object { $_.Length -gt 120 })
        $long | Should -BeNullOrEmpty -Because "$Because must fit 120 columns"
        $header = @($lines | Where-Object { $_.Trim() }) | Select-Object -First 1
        ($header.Trim() -split '\s+')[0] | Should -BeExactly 'Domain' -Because "$Because starts with Domain"
        $text
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Default tables' -Tag Lab, Format {
    It 'the scan gave the verdicts the table is checked with' {
        @($Results.Verdict | ForEach-Object { "$_" } | Sort-Object -Unique) | Should -Be @('Closed', 'NoMail', 'Open')
        $Evidence.Count | Should -Be 2
        $Notices.Count | Should -BeGreaterThan 0
    }

    It 'results fit 120 columns, Domain first, one row per result that names its domain' {
        $text = Assert-Table $Results 'the result table'
        foreach ($r in $Results | Where-Object { $_.Domain.Length -le 22 -and $_.ComputerName.Length -le 24 }) {
            $text | Should -Match ('(?m)^{0}\s+{1}\s' -f [regex]::Escape($r.Domain), [regex]::Escape($(if ($r.ComputerName) { $r.ComputerName } else { '(null MX)' })))
        }
    }

    It 'a null-MX result shows its domain, not "." as the host' {
        $nullMx = @($Results | Where-Object Verdict -EQ 'NoMail')
        $nullMx.Count | Should -Be 1
        $nullMx[0].ComputerName | Should -BeNullOrEmpty
        $row = @(($nullMx | Format-Table | Out-String -Width 120) -split "\r?\n" | Where-Object { $_ -match 'NoMail' })
        $row.Count | Should -Be 1
        $row[0] | Should -Match '^nullmx\.omr-lab\.test\s+\(null MX\)\s'
        $row[0] | Should -Not -Match '\s\.\s'
        "$($nullMx[0])" | Should -BeLike 'nullmx.omr-lab.test NoMail: *'
    }

    It 'deserialized results (Import-Clixml) use the same table' {
        $file = Join-Path $TestDrive 'results.xml'
        $Results | Export-Clixml -LiteralPath $file
        $back = @(Import-Clixml -LiteralPath $file)
        $back[0].PSObject.TypeNames[0] | Should -Be 'Deserialized.Omr.RelayTestResult'
        Assert-Table $back 'the table of re-imported results' | Should -Match 'RelayedBy/Reason'
    }

    It 'evidence fits 120 columns, Domain first' {
        Assert-Table $Evidence 'the evidence table' | Should -Match 'Delivered'
    }

    It 'notices fit 120 columns, Domain first' {
        Assert-Table $Notices 'the notice table' | Should -Match 'Written|Skipped'
    }

    It 'the relay tests and the transcript of a result fit 120 columns' {
        $open = $Results | Where-Object Domain -EQ 'open.omr-lab.test'
        foreach ($set in @($open.Tests), @($open.Transcript)) {
            $long = @(($set | Format-Table | Out-String -Width 120) -split "\r?\n" | Where-Object { $_.Length -gt 120 })
            $long | Should -BeNullOrEmpty
        }
    }
}

Describe 'List views' -Tag Lab, Format {
    It 'the list view of <Type> shows every public property' -ForEach @(
        @{ Type = 'Omr.RelayTestResult'; Except = @('TranscriptText') }
        @{ Type = 'Omr.RelayEvidence'; Except = @() }
        @{ Type = 'Omr.RelayNotice'; Except = @() }
        @{ Type = 'Omr.RelayMonitorRun'; Except = @('Duration', 'ErrorCount') }
    ) {
        $view = @(Get-FormatData -TypeName $Type -PowerShellVersion $PSVersionTable.PSVersion).FormatViewDefinition |
            Where-Object { $_.Control -is [System.Management.Automation.ListControl] } | Select-Object -First 1
        $view | Should -Not -BeNullOrEmpty -Because "$Type needs a list view"
        $shown = @($view.Control.Entries[0].Items | ForEach-Object { if ($_.Label) { $_.Label } else { $_.DisplayEntry.Value } })
        $properties = @(([type]$Type).GetProperties() | Where-Object { $_.GetMethod.IsPublic } | ForEach-Object Name | Where-Object { $_ -notin $Except })
        $missing = @($properties | Where-Object { $_ -notin $shown })
        $missing | Should -BeNullOrEmpty -Because "Format-List of $Type shows everything (Omr.Format.ps1xml)"
    }

    It 'Format-List of a result shows its reason code, tests and transcript' {
        $open = $Results | Where-Object Domain -EQ 'open.omr-lab.test'
        $text = $open | Format-List | Out-String -Width 120
        $text | Should -Match 'ReasonCode\s+: RelayAccepted'
        $text | Should -Match ('Tests\s+: {0} tests, {0} accepted' -f $open.Tests.Count)
        $text | Should -Match ('Transcript\s+: {0} lines' -f $open.Transcript.Count)
    }
}

Describe 'ToString' -Tag Lab, Format {
    It 'a result reads as host [address]:port (domain) Verdict: Reason' {
        $closed = $Results | Where-Object Domain -EQ 'closed.omr-lab.test'
        "$closed" | Should -BeExactly ('closed.mx.omr-lab.test [{0}]:{1} (closed.omr-lab.test) Closed: {2}' -f $closed.Address, $Lab.smtpPort, $closed.Reason)
        "Found: $closed" | Should -Not -Match 'Omr\.RelayTestResult'
    }

    It 'evidence, notices, hops and test outcomes name what they are about' {
        $delivered = $Evidence | Where-Object Delivered
        "$delivered" | Should -BeLike "open.mx.omr-lab.test *Delivered*"
        "$($delivered.Hops[0])" | Should -BeLike 'from * by *'
        "$($Notices[0])" | Should -BeLike "$($Notices[0].Domain) $($Notices[0].Status)*"
        "$(($Results | Where-Object Domain -EQ 'open.omr-lab.test').Tests[0])" | Should -BeLike 'foreign-recipient: MAIL FROM:<*> RCPT TO:<*> -> 250 ACCEPTED'
    }
}

Describe 'Saved results re-bind' -Tag Lab, Format {
    BeforeAll {
        $script:Saved = @($Results | Where-Object Domain -In 'open.omr-lab.test', 'closed.omr-lab.test', 'nullmx.omr-lab.test')
        $Saved.Count | Should -Be 3
        function script:Assert-SameTargets([object[]] $Again, [string] $Because) {
            @($Again).Count | Should -Be $Saved.Count -Because $Because
            foreach ($s in $Saved) {
                $match = @($Again | Where-Object { $_.Domain -eq $s.Domain })
                $match.Count | Should -Be 1 -Because "$Because : $($s.Domain) once"
                $match[0].Port | Should -Be $Lab.smtpPort -Because "$Because re-tests the port it tested, not 25"
                $match[0].Address | Should -Be $s.Address
                "$($match[0].ComputerName)" | Should -Be "$($s.ComputerName)"
                $match[0].Verdict | Should -Be $s.Verdict -Because $match[0].Reason
            }
        }
    }

    It 'declares Port, Domain and ComputerName as bound by property name' {
        foreach ($name in 'Port', 'Domain', 'ComputerName') {
            $attr = @((Get-Command Test-OpenRelay).Parameters[$name].Attributes | Where-Object { $_ -is [System.Management.Automation.ParameterAttribute] })
            $attr.ValueFromPipelineByPropertyName | Should -Contain $true -Because "-$name binds by property name"
        }
    }

    It 'live results piped back re-test the same host and port' {
        $again = @($Saved | Test-OpenRelay -DnsServer $Lab.dnsServer -TimeoutSec 15 -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        Assert-SameTargets $again 'live results'
    }

    It 'an Export-Csv / Import-Csv round trip re-tests the same host and port' {
        $file = Join-Path $TestDrive 'relay.csv'
        $Saved | Select-Object Domain, ComputerName, Address, Port, Verdict, Proof, Reason, ProbeId | Export-Csv -LiteralPath $file -NoTypeInformation
        $rows = @(Import-Csv -LiteralPath $file)
        ($rows | Where-Object Domain -EQ 'open.omr-lab.test').Port | Should -Be "$($Lab.smtpPort)"
        $again = @($rows | Test-OpenRelay -DnsServer $Lab.dnsServer -TimeoutSec 15 -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        Assert-SameTargets $again 'CSV rows'
    }

    It 'an Export-Clixml / Import-Clixml round trip re-tests the same host and port' {
        $file = Join-Path $TestDrive 'relay.xml'
        $Saved | Export-Clixml -LiteralPath $file
        $again = @(Import-Clixml -LiteralPath $file | Test-OpenRelay -DnsServer $Lab.dnsServer -TimeoutSec 15 -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        Assert-SameTargets $again 'Clixml results'
        # The software comes back too, and shows in the list view (the lab's greeting 'ESMTP Omr lab' names no known product).
        $back = @(Import-Clixml -LiteralPath $file | Where-Object Address)
        $back.Count | Should -BeGreaterThan 0
        foreach ($b in $back) {
            $live = $Saved | Where-Object ProbeId -EQ $b.ProbeId
            "$($b.Software)" | Should -Be "$($live.Software)"
            $b.Software.Confidence | Should -Be "$($live.Software.Confidence)"
            ($b | Format-List | Out-String) | Should -Match ('Software\s+: ' + [regex]::Escape("$($live.Software) ($($live.Software.Confidence))"))
        }
    }

    It 'a -Port on the command line still applies to inputs without a Port' {
        $again = @([pscustomobject]@{ DomainName = 'open.omr-lab.test' } | Test-OpenRelay -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 15)
        $again.Count | Should -Be 1
        $again[0].Port | Should -Be $Lab.smtpPort
        $again[0].Verdict | Should -Be 'Open'
    }

    It '-ComputerName '''' on the command line is still a validation error' {
        { Test-OpenRelay -ComputerName '' -Port $Lab.smtpPort } | Should -Throw -ErrorId 'ParameterArgumentValidationError,*'
    }
}

Describe 'Progress' -Tag Lab, Format {
    It 'every cmdlet that works through many inputs writes progress, and completes it' {
        # A runspace of its own, so that its progress stream can be read.
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript({
                    param($module, $lab, $drive)
                    $ProgressPreference = 'Continue'
                    Import-Module $module
                    $scan = @{ DnsServer = $lab.dnsServer; Port = $lab.smtpPort; TimeoutSec = 15 }
                    Test-OpenRelay -Domain open.omr-lab.test, closed.omr-lab.test @scan -Verify -VerifyAddress relaycheck@noc.example.net -Confirm:$false |
                        Get-RelayEvidence -MailDrop $lab.mailDrop -WaitSec 5 -OutputPath (Join-Path $drive 'progress-evidence') |
                        Send-RelayNotice -PickupDirectory (Join-Path $drive 'progress-pickup') -From noc@example.net -DnsServer $lab.dnsServer `
                            -MinimumProof RecipientAccepted -Confirm:$false
                }).AddArgument((Get-OmrModulePath)).AddArgument($Lab).AddArgument((Get-Item TestDrive:).FullName)
            $out = @($ps.Invoke())
            @($ps.Streams.Error) | Should -BeNullOrEmpty
            $out.Count | Should -BeGreaterThan 0
            $records = @($ps.Streams.Progress)
            foreach ($activity in 'Test-OpenRelay', 'Get-RelayEvidence', 'Send-RelayNotice') {
                $mine = @($records | Where-Object Activity -EQ $activity)
                $mine.Count | Should -BeGreaterThan 0 -Because "$activity writes progress"
                @($mine | Where-Object RecordType -EQ 'Completed').Count | Should -BeGreaterThan 0 -Because "$activity completes its progress"
            }
        }
        finally { $ps.Dispose() }
    }
}
