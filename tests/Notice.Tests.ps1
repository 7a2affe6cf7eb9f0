#Requires -Version 7.2
# Send-RelayNotice as a user sees it, on the BUILT module, against the in-process lab: the full
# pipeline Test-OpenRelay -Verify | Get-RelayEvidence | Send-RelayNotice into a pickup folder,
# contact discovery in the lab DNS, the state file, -WhatIf, -To, re-imported evidence, ARF.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-OmrModule
    $script:Lab = Start-OmrLab
    $script:Evidence = Test-OpenRelay open.omr-lab.test -DnsServer $Lab.dnsServer -Port $Lab.smtpPort -TimeoutSec 20 -Verify -VerifyAddress relaycheck@noc.example.net -Confirm:$false |
        Get-RelayEvidence -MailDrop $Lab.mailDrop -OutputPath (Join-Path $TestDrive 'ev') -WaitSec 5
    $script:Common = @{ From = 'noc@example.net'; DnsServer = $Lab.dnsServer; Confirm = $false }

    function script:Read-Eml([string] $Path) {
        $mimeKit = [AppDomain]::CurrentDomain.GetAssemblies() | Where-Object { $_.GetName().Name -eq 'MimeKit' } | Select-Object -First 1
        if ($mimeKit) { return $mimeKit.GetType('MimeKit.MimeMessage')::Load($Path) }
        # The module keeps MimeKit in its own load context: load a copy for the test's own use.
        $dll = Join-Path (Split-Path (Get-OmrModulePath)) 'dependencies/MimeKit.dll'
        $asm = [System.Reflection.Assembly]::LoadFrom($dll)
        $asm.GetType('MimeKit.MimeMessage')::Load($Path)
    }

    function script:New-Folder([string] $Name) {
        $p = Join-Path $TestDrive ($Name + '-' + [guid]::NewGuid().ToString('N').Substring(0, 6))
        New-Item -ItemType Directory -Path $p | Out-Null
        $p
    }
}

AfterAll {
    Stop-OmrLab $Lab
}

Describe 'Send-RelayNotice' -Tag Lab, Notice {
    It 'has delivered evidence to work with' {
        @($Evidence).Count | Should -Be 1
        $Evidence.Proof | Should -Be 'Delivered' -Because $Evidence.Reason
    }

    It 'writes one notice for the domain to the pickup folder, to the discovered contacts' {
        $dir = New-Folder 'full'
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory "$dir/pickup" -StatePath "$dir/state.json"
        @($n).Count | Should -Be 1
        $n.PSObject.TypeNames | Should -Contain 'Omr.RelayNotice'
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $n.Domain | Should -Be 'open.omr-lab.test'
        $n.Recipients | Should -Be @('postmaster@open.omr-lab.test', 'abuse@open.omr-lab.test', 'hostmaster@omr-lab.test')
        @(Get-ChildItem "$dir/pickup" -Filter *.eml).Count | Should -Be 1
        $n.EmlPath | Should -Exist

        $m = Read-Eml $n.EmlPath
        $m.MessageId | Should -Be $n.MessageId
        $m.MessageId | Should -BeLike 'notice-*@example.net'
        $m.Headers['Auto-Submitted'] | Should -Be 'auto-generated'
        $m.Headers['X-Omr-Notice'] | Should -Not -BeNullOrEmpty
        @($m.To.Mailboxes.Address) | Should -Be @('postmaster@open.omr-lab.test', 'abuse@open.omr-lab.test', 'hostmaster@omr-lab.test')
        $m.TextBody | Should -Match 'open\.mx\.omr-lab\.test \[127\.66\.0\.\d+\] port \d+'
        $m.TextBody | Should -Match ([regex]::Escape("Test-OpenRelay -ComputerName open.mx.omr-lab.test -Port $($Lab.smtpPort)"))
        $m.HtmlBody | Should -Match 'smtpd_relay_restrictions'
        @($m.Attachments | ForEach-Object { $_.ContentType.MimeType }) | Should -Be @('text/plain', 'message/rfc822', 'application/json')
    }

    It 'does not notice the same open host twice: the second run is Skipped and writes nothing' {
        $dir = New-Folder 'twice'
        $first = $Evidence | Send-RelayNotice @Common -PickupDirectory "$dir/pickup" -StatePath "$dir/state.json"
        $first.Status | Should -Be 'Written'
        $second = $Evidence | Send-RelayNotice @Common -PickupDirectory "$dir/pickup" -StatePath "$dir/state.json"
        $second.Status | Should -Be 'Skipped'
        $second.Reason | Should -Match 'already noticed on .*use -Force or wait until'
        @(Get-ChildItem "$dir/pickup" -Filter *.eml).Count | Should -Be 1
        $forced = $Evidence | Send-RelayNotice @Common -PickupDirectory "$dir/pickup" -StatePath "$dir/state.json" -Force
        $forced.Status | Should -Be 'Written'
        @(Get-ChildItem "$dir/pickup" -Filter *.eml).Count | Should -Be 2
    }

    It '-WhatIf writes nothing, not even state, and says what it would send to whom' {
        $dir = New-Folder 'whatif'
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory "$dir/pickup" -StatePath "$dir/state.json" -WhatIf 6>&1
        $obj = @($n | Where-Object { $_ -isnot [System.Management.Automation.InformationRecord] })
        $obj.Count | Should -Be 1
        $obj[0].Status | Should -Be 'WhatIf'
        "$dir/pickup" | Should -Not -Exist
        "$dir/state.json" | Should -Not -Exist
    }

    It '-To overrides the discovered contacts; -Cc and -Bcc add the team' {
        $dir = New-Folder 'to'
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory $dir -To 'ops@customer.example' -Cc 'team@example.net' -Bcc 'archive@example.net'
        $n.Recipients | Should -Be @('ops@customer.example')
        $m = Read-Eml $n.EmlPath
        @($m.To.Mailboxes.Address) | Should -Be @('ops@customer.example')
        @($m.Cc.Mailboxes.Address) | Should -Be @('team@example.net')
    }

    It 'works on evidence re-imported with Export-Clixml / Import-Clixml' {
        $dir = New-Folder 'clixml'
        $Evidence | Export-Clixml "$dir/ev.xml"
        $n = Import-Clixml "$dir/ev.xml" | Send-RelayNotice @Common -PickupDirectory "$dir/pickup"
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $m = Read-Eml $n.EmlPath
        @($m.Attachments).Count | Should -Be 3
        $m.TextBody | Should -Match 'MAIL FROM:<omr-probe@example\.org>'
    }

    It 'works on evidence re-imported with ConvertTo-Json -Depth 6 / ConvertFrom-Json' {
        $dir = New-Folder 'json'
        $n = $Evidence | ConvertTo-Json -Depth 6 | ConvertFrom-Json | Send-RelayNotice @Common -PickupDirectory "$dir/pickup"
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $n.Recipients | Should -Contain 'hostmaster@omr-lab.test'
    }

    It 'writes an RFC 5965 report with -Format Arf' {
        $dir = New-Folder 'arf'
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory $dir -Format Arf
        $n.Format | Should -Be 'Arf'
        $m = Read-Eml $n.EmlPath
        $m.Body.ContentType.MimeType | Should -Be 'multipart/report'
        $m.Body.ContentType.Parameters['report-type'] | Should -Be 'feedback-report'
        $m.Body[1].ContentType.MimeType | Should -Be 'message/feedback-report'
        $m.Body[1].Fields['Feedback-Type'] | Should -Be 'abuse'
        $m.Body[1].Fields['Source-IP'] | Should -Be $Evidence.Address
        $m.Body[2].ContentType.MimeType | Should -Be 'message/rfc822'
    }

    It 'skips weaker proof with the reason, and -MinimumProof lowers the bar' {
        $weak = $Evidence | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $weak.Proof = 'DataAccepted'
        $weak.Delivered = $false
        $dir = New-Folder 'weak'
        $n = $weak | Send-RelayNotice @Common -PickupDirectory $dir
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -Match 'below -MinimumProof Delivered'
        @(Get-ChildItem $dir).Count | Should -Be 0
        ($weak | Send-RelayNotice @Common -PickupDirectory $dir -MinimumProof DataAccepted).Status | Should -Be 'Written'
    }

    It 'finds the SOA RNAME with an escaped dot in the lab DNS' {
        $e = $Evidence | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $e.Domain = 'contacts.omr-lab.test'
        $n = $e | Send-RelayNotice @Common -PickupDirectory (New-Folder 'rname')
        $n.Recipients | Should -Contain 'john.doe@omr-lab.test'
    }

    It 'reports a domain nobody can be told about as NoContact, and still outputs it Skipped' {
        $e = $Evidence | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $e.Domain = 'nocontact.omr-lab.test'
        $errs = $null
        $n = $e | Send-RelayNotice @Common -PickupDirectory (New-Folder 'nocontact') -ErrorVariable errs -ErrorAction SilentlyContinue
        $n.Status | Should -Be 'Skipped'
        $n.Reason | Should -Match 'null MX'
        $errs.Count | Should -Be 1
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'NoContact,*'
        $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
        $errs[0].TargetObject | Should -Be 'nocontact.omr-lab.test'
    }

    It 'a corrupt state file stops the run with StateCorrupt and is left alone' {
        $dir = New-Folder 'corrupt'
        Set-Content "$dir/state.json" '{ this is not json'
        { $Evidence | Send-RelayNotice @Common -PickupDirectory "$dir/pickup" -StatePath "$dir/state.json" -ErrorAction Stop } |
            Should -Throw -ErrorId 'StateCorrupt,*'
        Get-Content "$dir/state.json" | Should -Be '{ this is not json'
        "$dir/pickup" | Should -Not -Exist
    }

    It 'rejects a non-evidence input with InvalidEvidenceObject' {
        $errs = $null
        [pscustomobject]@{ Name = 'x' } | Send-RelayNotice @Common -PickupDirectory (New-Folder 'bad') -ErrorVariable errs -ErrorAction SilentlyContinue
        $errs[0].FullyQualifiedErrorId | Should -BeLike 'InvalidEvidenceObject,*'
    }
}

Describe 'Send-RelayNotice -NetworkAbuse' -Tag Lab, Notice, Rdap {
    # The lab's RDAP server answers as the RIRs do: 127.66.0.0/24 (the lab's servers) is a 302 from its root to
    # /rir-a/, whose answer nests the abuse contact abuse@noc.omr-lab.test in the organisation's entities.
    It 'adds the network owner''s abuse desk, found over RDAP, to the recipients and names it in the notice' {
        $dir = New-Folder 'owner'
        $warnings = $null
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory $dir -NetworkAbuse -RdapServer $Lab.rdapServer -WarningVariable warnings
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $n.Recipients | Should -Contain 'hostmaster@omr-lab.test'
        $n.Recipients | Should -Contain 'abuse@noc.omr-lab.test'
        @($n.Recipients | Where-Object { $_ -eq 'abuse@noc.omr-lab.test' }).Count | Should -Be 1
        $n.NetworkAbuse.Count | Should -Be 1
        $n.NetworkAbuse[0].PSObject.TypeNames | Should -Contain 'Omr.NetworkAbuseContact'
        $n.NetworkAbuse[0].Address | Should -Be $Evidence.Address
        $n.NetworkAbuse[0].Network | Should -Be 'OMR-LAB-NET'
        $n.NetworkAbuse[0].Registry | Should -BeLike "$($Lab.rdapServer)rir-a/ip/*"
        $warnings | Should -BeNullOrEmpty
        $m = Read-Eml $n.EmlPath
        @($m.To.Mailboxes.Address) | Should -Contain 'abuse@noc.omr-lab.test'
        $m.TextBody | Should -Match "abuse@noc\.omr-lab\.test: network owner of $([regex]::Escape($Evidence.Address)) \(OMR-LAB-NET, 127\.66\.0\.0 - 127\.66\.0\.255\)"
    }

    It 'sends -Format Arf to the abuse desk first, by default' {
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory (New-Folder 'arf-owner') -Format Arf -RdapServer $Lab.rdapServer
        $n.Status | Should -Be 'Written' -Because $n.Reason
        $n.Recipients[0] | Should -Be 'abuse@noc.omr-lab.test'
        $n.Recipients | Should -Contain 'hostmaster@omr-lab.test'
        @((Read-Eml $n.EmlPath).To.Mailboxes)[0].Address | Should -Be 'abuse@noc.omr-lab.test'
        # -NetworkAbuse:$false keeps ARF to the domain's contacts.
        $off = $Evidence | Send-RelayNotice @Common -PickupDirectory (New-Folder 'arf-off') -Format Arf -RdapServer $Lab.rdapServer -NetworkAbuse:$false -WarningAction SilentlyContinue
        $off.Recipients | Should -Not -Contain 'abuse@noc.omr-lab.test'
    }

    It 'falls back to the network owner when the domain has no usable contact, and says so' {
        $e = $Evidence | ConvertTo-Json -Depth 6 | ConvertFrom-Json
        $e.Domain = 'nocontact.omr-lab.test'
        $errs = $null
        $n = $e | Send-RelayNotice @Common -PickupDirectory (New-Folder 'fallback') -NetworkAbuse -RdapServer $Lab.rdapServer -ErrorVariable errs
        $n.Status | Should -Be 'Written' -Because $n.Reason
        @($n.Recipients) | Should -Be @('abuse@noc.omr-lab.test')
        $n.Reason | Should -Match "sent to the network owner's abuse desk only: .*null MX"
        $errs | Should -BeNullOrEmpty
        (Read-Eml $n.EmlPath).TextBody | Should -Match 'We found no working contact address for nocontact\.omr-lab\.test itself'
    }

    It 'a registry that cannot be reached is a warning, never a lost notice' {
        $dead = [System.Net.Sockets.TcpListener]::new([System.Net.IPAddress]::Loopback, 0)
        $dead.Start(); $port = $dead.LocalEndpoint.Port; $dead.Stop()
        $warnings = $null
        $n = $Evidence | Send-RelayNotice @Common -PickupDirectory (New-Folder 'dead') -NetworkAbuse -RdapServer "http://127.0.0.1:$port/" -WarningVariable warnings -WarningAction SilentlyContinue
        $n.Status | Should -Be 'Written'
        $n.Recipients | Should -Contain 'hostmaster@omr-lab.test'
        $n.NetworkAbuse[0].Found | Should -BeFalse
        @($warnings).Count | Should -Be 1
        "$($warnings[0])" | Should -BeLike "NetworkAbuseLookupFailed: no network owner for *$($Evidence.Address)*"
    }

    It 'refuses an -RdapServer that is not an http(s) base URL' {
        { $Evidence | Send-RelayNotice @Common -PickupDirectory (New-Folder 'badrdap') -NetworkAbuse -RdapServer 'ftp://rdap.example/' -ErrorAction Stop } |
            Should -Throw -ErrorId 'InvalidRdapServer,*'
    }
}

Describe 'The RDAP bootstrap refresh (build.ps1 RdapBootstrap)' -Tag Notice, Rdap {
    BeforeAll {
        $script:Update = Join-Path $PSScriptRoot '../tools/Update-RdapBootstrap.ps1'
        $script:Shipped = Join-Path $PSScriptRoot '../src/Omr.Engine/Discovery/Rdap'
    }

    It 'takes IANA''s files byte for byte, and refuses one that is no bootstrap registry or older than the shipped one' {
        $src = New-Folder 'rdap-src'; $dst = New-Folder 'rdap-dst'
        Copy-Item "$Shipped/*.json" $src; Copy-Item "$Shipped/*.json" $dst
        $out = & $Update -SourcePath $src -Destination $dst 6>&1
        "$out" | Should -Match 'ipv4\.json: publication 2019-06-07T19:00:02Z'
        "$out" | Should -Match 'ipv6\.json: publication 2024-11-01T22:00:01Z'
        (Get-FileHash "$dst/ipv6.json").Hash | Should -Be (Get-FileHash "$Shipped/ipv6.json").Hash

        Set-Content "$src/ipv4.json" '{"description":"RDAP bootstrap file for IPv4 address allocations","publication":"2030-01-01T00:00:00Z","services":[]}'
        { & $Update -SourcePath $src -Destination $dst } | Should -Throw '*names no networks*'
        (Get-Content -Raw "$src/ipv4.json").Replace('"services":[]', '"services":[[["1.0.0.0/8","2.0.0.0/8"],["https://rdap.example/"]]]').Replace('2030', '2001') |
            Set-Content "$src/ipv4.json"
        { & $Update -SourcePath $src -Destination $dst } | Should -Throw '*before the shipped copy*'
        (Get-FileHash "$dst/ipv4.json").Hash | Should -Be (Get-FileHash "$Shipped/ipv4.json").Hash -Because 'a refused file replaces nothing'
    }
}
