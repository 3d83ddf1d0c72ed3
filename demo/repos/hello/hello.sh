#!/bin/sh
echo "hello from $(cat /etc/demo/release)"
