#!/bin/sh
# The app under test of experiment.toml: reads the datapoint's inputs as JSON on
# stdin and prints its output as JSON on stdout. Gets Australia wrong on purpose.
input=$(cat)
case "$input" in
  *France*) echo '{"answer": "Paris"}' ;;
  *Spain*) echo '{"answer": "Madrid"}' ;;
  *Italy*) echo '{"answer": "Rome"}' ;;
  *) echo '{"answer": "Sydney"}' ;;
esac
