# A string-heavy perl workload for mtrace recording: word counts, regex rewriting, sprintf, sort.
use strict;
use warnings;
my @words = qw(lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt);
my $seed = 7;
sub rnd { $seed = ($seed * 1103515245 + 12345) % 2147483648; return $seed % $_[0]; }
my %count;
my @lines;
for my $i (1 .. 1000) {
    my $line = join ' ', map { $words[rnd(scalar @words)] } 1 .. (5 + rnd(60));
    $line =~ s/(\w+) (\w+)/$2-$1/g;
    $line = uc($line) if $i % 7 == 0;
    $count{$_}++ for split /[\s-]+/, $line;
    push @lines, sprintf("%05d:%s", $i, $line);
    if (@lines > 250) { my $blob = join("\n", sort @lines); @lines = grep { length($_) > length($blob) / 280 } @lines; }
}
my $report = join '', map { "$_=$count{$_}\n" } sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count;
print length($report), "\n";
