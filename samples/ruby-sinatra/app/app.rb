# A small Sinatra app. Each handler requires what it needs when its route is first hit, so a traced run that
# takes only / and /time never loads digest (a compiled extension), csv (a default gem) or the app's own helper.
require 'sinatra/base'
require_relative 'lib/greeting'

class App < Sinatra::Base
  set :bind, '0.0.0.0'
  set :port, 8080
  set :server, 'webrick'
  set :logging, false

  get '/' do
    Greeting.hello('slim')
  end

  get '/time' do
    require 'time'
    require 'json'
    content_type :json
    JSON.generate({ 'epoch' => Time.at(0).utc.iso8601 })
  end

  get '/digest' do
    require 'digest/sha2'
    Digest::SHA256.hexdigest('abc')
  end

  get '/csv' do
    require 'csv'
    CSV.generate_line(['a', 'b,c', 'd'])
  end

  get '/report' do
    require_relative 'lib/report'
    Report.render(%w[x y])
  end
end

App.run!
