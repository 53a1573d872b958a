use strict;
use warnings;

if (@ARGV && $ARGV[0] eq "csv") {
    require Text::CSV;
    my $csv = Text::CSV->new({binary => 1});
    $csv->combine("a", "b,c");
    print $csv->string, " ", Text::CSV->backend, "\n";
} else {
    print "hello\n";
}
